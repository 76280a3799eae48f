import { describe, expect, it } from 'vitest';
import { renderReport } from '../src/report.js';
import type { Results } from '../src/results.js';
import type { IngestResult } from '../src/scenarios/ingestion.js';
import type { SearchServerResult } from '../src/scenarios/search-throughput.js';
import { judge } from '../src/targets.js';
import { MIX_SHARES } from '../src/traffic-mix.js';

const run: Results = {
  startedAt: '2026-11-27T00:00:00.000Z',
  machine: { cpu: 'test cpu', cores: 2, memoryGb: 24, kernel: 'test' },
  node: 'v20.20.2',
  packages: {},
  loadGenerator: 'wrk',
  settings: { seconds: 1, fixedSeconds: 1, events: 1, largeMb: 1000 },
  ran: ['ingestion'],
  commands: [],
};

const ingest = (
  feed: string,
  threads: number,
  peakRssMb: number,
  mbPerSecond: number,
): IngestResult => ({
  feed,
  threads,
  peakRssMb,
  mbPerSecond,
  bytes: 1e9,
  events: 90_000,
  ms: 15_000,
  eventsPerSecond: 6_000,
  outcome: 'stored',
  phases: {
    fetchMs: 1,
    splitMs: 1,
    waitMs: 1,
    storeMs: 1,
    decodeMs: 1,
    condenseMs: 1,
    saxMs: 1,
    readMs: 1,
  },
});

describe('the targets make bench checks', () => {
  it('judges only what ran, and marks a figure past its limit as missed', () => {
    expect(judge(run)).toEqual([]);
    const verdicts = judge({
      ...run,
      ingestion: [
        ingest('100 MB', 1, 500, 10), // one thread: no target
        ingest('100 MB', 2, 183, 50),
        ingest('1000 MB', 2, 240, 90),
      ],
    });
    expect(verdicts.map((v) => [v.target, v.met])).toEqual([
      ['ingest peak RSS ≤ 200 MiB, 100 MB feed, 2 threads', true],
      ['ingest peak RSS ≤ 200 MiB, 1000 MB feed, 2 threads', false],
      ['ingest ≥ 100 MB/s, 1000 MB feed, 2 threads, whole --once process', false],
    ]);
  });

  it('judges /search against the Koa floor by req/s and by CPU per request, and against the baseline', () => {
    const server = (requestsPerSecond: number, cpuUs: number): SearchServerResult => ({
      tool: 'wrk',
      requestsPerSecond,
      latencyMs: { p50: 1, p99: 2, max: 3 },
      errors: 0,
      bytesPerSecond: 1,
      rounds: [requestsPerSecond],
      medianCpuUsPerRequest: cpuUs,
    });
    const verdicts = judge({
      ...run,
      search: [
        {
          scenario: '(a) window',
          query: '?x',
          events: 4,
          bodyBytes: 800,
          headBytes: 280,
          tessera: server(24_000, 38),
          koa: server(30_000, 36.5),
          koaSameAnswer: server(25_000, 37),
          raw: server(50_000, 20),
          ofKoa: { requestsPerSecond: 0.8, cpuPerRequest: 36.5 / 38 },
          ofKoaSameAnswer: { requestsPerSecond: 0.96, cpuPerRequest: 37 / 38 },
          ofRaw: { requestsPerSecond: 0.48, cpuPerRequest: 20 / 38 },
          baseline: {
            ...server(26_000, 35),
            ref: 'b5f07fe',
            commit: 'b5f07fee7c5c',
            sameBody: true,
            // Paired by round: the baseline's CPU over Tessera's, so Tessera costs 1/0.92 of it.
            paired: { requestsPerSecond: 0.92, cpuPerRequest: 0.92 },
          },
        },
      ],
    });
    expect(verdicts.map((v) => [v.measured, v.met])).toEqual([
      ['0.80 of Koa (0.96 of Koa sending the same head, 0.48 of raw)', false],
      ['38.0 µs against 36.5 µs (0.96; 0.97 of Koa sending the same head)', true],
      ['1.087 × (38.0 µs against 35.0 µs)', false],
    ]);
  });

  it('judges each uncached window of the cost curve against its share of the cached rate', () => {
    const point = (events: number, cached: number, uncached: number) => {
      const at = (requestsPerSecond: number) => ({
        tool: 'wrk' as const,
        requestsPerSecond,
        latencyMs: { p50: 1, p99: 2, max: 3 },
        errors: 0,
        bytesPerSecond: 1,
      });
      return { storeEvents: 1e5, events, bodyBytes: 1, cached: at(cached), uncached: at(uncached) };
    };
    const curve = (byResultSize: ReturnType<typeof point>[]) =>
      judge({ ...run, costCurve: { connections: 16, seconds: 1, byResultSize, byStoreSize: [] } });
    expect(
      curve([point(10, 100, 1), point(100, 1000, 500), point(1000, 1000, 299)]).map((v) => [
        v.target,
        v.met,
      ]),
    ).toEqual([
      ['an uncached 100-event window ≥ 0.5 of the cached rate', true],
      ['an uncached 1000-event window ≥ 0.3 of the cached rate', false],
    ]);
    expect(curve([point(100, 1000, 499)]).map((v) => v.met)).toEqual([false]);
  });

  it('judges the traffic mix by p99 at each rate, with every request answered', () => {
    const rate = (targetRate: number, p99: number, non2xx = 0) => ({
      targetRate,
      achievedRate: targetRate,
      latencyMs: { p50: 1, p90: 2, p99, p999: p99, max: p99 },
      errors: 0,
      non2xx,
      requests: targetRate,
      kinds: { day: 1, fromNow: 1, event: 1, page: 1 },
      feedsApplied: 2,
      generatorFloor: { p50: 1, p90: 2, p99: 3, p999: 4, max: 5 },
    });
    const mix = (rates: ReturnType<typeof rate>[]) =>
      judge({
        ...run,
        trafficMix: { days: 1000, pollMs: 30_000, seed: 1, shares: MIX_SHARES, rates },
      }).map((v) => v.met);
    expect(mix([rate(5_000, 9), rate(10_000, 19)])).toEqual([true, true]);
    expect(mix([rate(5_000, 11), rate(10_000, 21)])).toEqual([false, false]);
    expect(mix([rate(5_000, 9, 1)])).toEqual([false]);
  });

  it('puts the verdicts at the top of the report, counted', () => {
    const report = renderReport({ ...run, ingestion: [ingest('1000 MB', 2, 240, 100)] }, '');
    expect(report).toContain('1 of 2 met in this run');
    expect(report).toMatch(
      /\| ingest peak RSS ≤ 200 MiB, 1000 MB feed, 2 threads \| 240 MiB \| \*\*missed\*\* \|/,
    );
  });
});
