import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedRateOfLogs, measureFixedRate, oneUrlLoad } from '../src/fixed-rate-load.js';

describe('a fixed-rate load (h2load)', () => {
  // When each measured request arrived (ms): the server is the truth about the rate, not the
  // generator's own account.
  const arrivals: number[] = [];
  const server = createServer((req, res) => {
    if (req.url === '/measured') arrivals.push(performance.now());
    res.end('{}');
  });
  let base = '';

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it('arrives evenly through every second, not in a burst at its start', async () => {
    const rate = 2_000;
    const seconds = 3;
    const measured = await measureFixedRate(
      oneUrlLoad(`${base}/measured`, rate, seconds),
      oneUrlLoad(`${base}/warm-up`, rate, seconds),
    );
    expect(measured.requests).toBeGreaterThan(rate * seconds * 0.95);
    expect(measured.errors + measured.non2xx).toBe(0);
    // A whole 100 ms of the run holds about a tenth of a second's requests. autocannon's
    // --overallRate sent each second's budget closed-loop from the second's start and then
    // idled (per 100 ms: 370 493 1137 0 0 0 0 0 0 280 1720 0 …). Judged by the median and by how
    // many are far off, so that a stall of the machine (CI runs suites side by side) does not
    // fail it.
    const start = arrivals[0]!;
    const buckets = new Array<number>(seconds * 10).fill(0);
    for (const t of arrivals) {
      const i = Math.floor((t - start) / 100);
      if (i < buckets.length) buckets[i]!++;
    }
    const whole = buckets.slice(1, -1);
    const expected = rate / 10;
    const shown = `requests per 100 ms: ${whole.join(' ')}`;
    const median = [...whole].sort((x, y) => x - y)[Math.floor(whole.length / 2)]!;
    expect(median, shown).toBeGreaterThan(expected * 0.7);
    expect(median, shown).toBeLessThan(expected * 1.3);
    const farOff = whole.filter((n) => n < expected * 0.5 || n > expected * 2);
    expect(farOff.length, shown).toBeLessThanOrEqual(whole.length / 10);
  });
});

describe("h2load's per-request log", () => {
  it('gives percentiles, failures and answers other than 2xx/3xx as the report keeps them', () => {
    // start µs, status, µs to the end of the answer
    const client = (from: number, n: number, status: number) =>
      Array.from({ length: n }, (_, i) => `${1e15 + i}\t${status}\t${(from + i) * 1000}`).join(
        '\n',
      );
    const logs = [
      `${client(1, 50, 200)}\n`,
      `${client(51, 49, 200)}\n${client(1000, 1, 503)}\n`,
      `1\t-1\t5\n`,
    ];
    const result = fixedRateOfLogs(logs, 2);
    expect(result.requests).toBe(101);
    expect(result.achievedRate).toBe(50.5);
    expect(result.errors).toBe(1);
    expect(result.non2xx).toBe(1);
    expect(result.latencyMs).toEqual({ p50: 50, p90: 90, p99: 99, p999: 1000, max: 1000 });
  });
});
