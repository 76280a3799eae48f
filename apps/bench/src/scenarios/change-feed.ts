import { readFileSync } from 'node:fs';
import { type ClientRequest, request } from 'node:http';
import { type EventRecord, eventIdFor } from '@tessera/core';
import { openStoreWriter, type StoreWriter } from '@tessera/store';
import { seedRecords, seedStore, waitUntil } from '@tessera/testkit';
import { open } from 'lmdb';
import type { BenchContext } from '../bench-context.js';
import { type FixedRate, measureFixedRate, oneUrlLoad } from '../fixed-rate-load.js';
import { measureThroughput, type Throughput } from '../load.js';
import { LOAD_CORE, medianRun, SERVER_CORE } from '../paired-rounds.js';
import { nearestRank } from '../percentile.js';
import { treeCpuSeconds } from '../process-cpu.js';

/** Writes timed per subscriber count, one every WRITE_GAP_MS. */
const WRITES = 40;
const WRITE_GAP_MS = 50;
/** The lower end of the rate Tessera's users run at (5k–10k req/s across their nodes). */
const FIXED_RATE = 5_000;

export interface Latency {
  subscribers: number;
  /** From a write's commit (applyFeed returned) to a subscriber's receipt of its change, in ms. */
  p50: number;
  p99: number;
  max: number;
  samples: number;
}

export interface ChangeFeedResult {
  latency: Latency[];
  /** /search of a one-week window, with no subscriber and beside 1,000 idle ones (interleaved). */
  search: { without: Throughput; beside: Throughput; subscribers: number };
  /** The same at a fixed rate (FIXED_RATE req/s, open loop): the latency a client sees. */
  fixed: { without: FixedRate; beside: FixedRate };
  /** The API process's resident memory per connected subscriber, in KiB. */
  kibPerSubscriber: number;
  /** One apply of `events` new events into an empty store, and the change log's part alone. */
  write: { events: number; applyMs: number; logMs: number; share: number };
}

/**
 * The change feed's costs, all in one run: how soon a write reaches 1 and 1,000 subscribers of
 * one API process, what 1,000 connected subscribers cost /search beside them and the process's
 * memory, and what recording the changes adds to an apply. The bench process is the writer; the
 * API is its own process, pinned to one core, as in the /search scenarios.
 */
export async function runChangeFeed(
  ctx: BenchContext,
  events: number,
  weekQuery: string,
): Promise<ChangeFeedResult> {
  const dir = ctx.dir('change-feed');
  const writer = openStoreWriter({ path: dir });
  try {
    seedStore(writer, events);
    const pinned = ['taskset', '-c', SERVER_CORE];
    const { api, base } = await ctx.startApi(dir, { API_WORKERS: '1' }, { wrapper: pinned });
    try {
      const latency: Latency[] = [];
      for (const subscribers of [1, 1_000]) {
        ctx.log(`change feed: commit to receipt, ${subscribers} subscriber(s)`);
        latency.push(await measureLatency(writer, base, subscribers));
      }
      ctx.log('change feed: /search beside 1,000 subscribers');
      const { search, fixed, kibPerSubscriber } = await measureBeside(
        ctx,
        `${base}/search${weekQuery}`,
        base,
        api.child.pid!,
      );
      const write = await measureWriteCost(ctx, events);
      return { latency, search, fixed, kibPerSubscriber, write };
    } finally {
      await api.stop();
    }
  } finally {
    await writer.close();
  }
}

/** Event streams from now on, each calling `onEvent` with every whole event it receives. */
async function subscribe(
  base: string,
  count: number,
  onEvent: (event: string, at: number) => void,
): Promise<ClientRequest[]> {
  const since = (await fetch(`${base}/search?starts_at=2030-01-01T00:00:00Z`)).headers.get(
    'changes-token',
  );
  const streams: ClientRequest[] = [];
  let open = 0;
  for (let i = 0; i < count; i++) {
    const req = request(`${base}/changes?since=${since}`, {
      headers: { accept: 'text/event-stream' },
      agent: false,
    });
    req.on('response', (res) => {
      if (res.statusCode !== 200) throw new Error(`subscriber answered ${res.statusCode}`);
      open++;
      res.setEncoding('utf8');
      let pending = '';
      res.on('data', (chunk: string) => {
        const at = performance.now();
        const parts = (pending + chunk).split('\n\n');
        pending = parts.pop() ?? '';
        for (const part of parts) onEvent(part, at);
      });
    });
    req.on('error', () => {});
    req.end();
    streams.push(req);
  }
  await waitUntil(() => open === count, { what: `${count} subscribers`, timeoutMs: 60_000 });
  return streams;
}

const probe = (n: number): EventRecord => {
  const id = eventIdFor('bench', 'probe', String(n));
  const startsAt = Date.parse('2031-01-01T00:00:00Z') + n * 60_000;
  return { id, startsAt, endsAt: startsAt + 3_600_000, summary: JSON.stringify({ id, n }) };
};

async function measureLatency(
  writer: StoreWriter,
  base: string,
  subscribers: number,
): Promise<Latency> {
  const committed = new Map<string, number>();
  const samples: number[] = [];
  const streams = await subscribe(base, subscribers, (event, at) => {
    const id = /"id":"([\w-]+)","n":/.exec(event)?.[1];
    const sent = id === undefined ? undefined : committed.get(id);
    if (sent !== undefined) samples.push(at - sent);
  });
  try {
    for (let n = 0; n < WRITES; n++) {
      const record = probe(subscribers * 1_000 + n);
      writer.applyFeed('bench', [record], {
        at: Date.now(),
        validators: { urlDigest: null, etag: null, lastModified: null, hash: `probe-${n}` },
      });
      committed.set(record.id, performance.now());
      await new Promise((resolve) => setTimeout(resolve, WRITE_GAP_MS));
    }
    await waitUntil(() => samples.length >= WRITES * subscribers, {
      what: 'every subscriber to receive every probe',
      timeoutMs: 60_000,
    });
  } finally {
    for (const stream of streams) stream.destroy();
  }
  samples.sort((a, b) => a - b);
  const at = (q: number) => nearestRank(samples, q);
  return {
    subscribers,
    p50: at(0.5),
    p99: at(0.99),
    max: samples.at(-1)!,
    samples: samples.length,
  };
}

function rssKib(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
}

/**
 * /search alone and beside 1,000 connected subscribers, in interleaved rounds (alone, beside,
 * alone, …) so that drift on a shared machine hits both alike; and the RSS they add.
 */
async function measureBeside(ctx: BenchContext, url: string, base: string, pid: number) {
  const rounds = 3;
  const seconds = Math.max(2, Math.round(ctx.config.BENCH_SECONDS / (2 * rounds)));
  const cpu = () => treeCpuSeconds(pid);
  const run = () => measureThroughput(url, seconds, 50, LOAD_CORE, cpu);
  const atRate = () => measureFixedRate(oneUrlLoad(url, FIXED_RATE, 5, LOAD_CORE));
  await run(); // warm-up
  const without: Throughput[] = [];
  const beside: Throughput[] = [];
  const fixedWithout: FixedRate[] = [];
  const fixedBeside: FixedRate[] = [];
  let kibPerSubscriber = 0;
  for (let round = 0; round < rounds; round++) {
    without.push(await run());
    fixedWithout.push(await atRate());
    const before = rssKib(pid);
    const streams = await subscribe(base, 1_000, () => {});
    kibPerSubscriber = Math.max(kibPerSubscriber, (rssKib(pid) - before) / 1_000);
    beside.push(await run());
    fixedBeside.push(await atRate());
    for (const stream of streams) stream.destroy();
    await waitUntil(async () => (await subscribers(base)) === 0, { what: 'subscribers gone' });
  }
  const byP99 = (runs: FixedRate[]) =>
    [...runs].sort((a, b) => a.latencyMs.p99 - b.latencyMs.p99)[Math.floor((runs.length - 1) / 2)]!;
  return {
    search: { without: medianRun(without), beside: medianRun(beside), subscribers: 1_000 },
    fixed: { without: byP99(fixedWithout), beside: byP99(fixedBeside) },
    kibPerSubscriber,
  };
}

/** The API's count of connected subscribers, from its /metrics. */
async function subscribers(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(/^tessera_change_subscribers (\d+)/m.exec(text)?.[1] ?? Number.NaN);
}

/**
 * An apply of `events` new events into an empty store, which records each as a change, and the
 * change log's writes alone over the same records (the same puts into a database of their own,
 * in one transaction): what recording changes adds, as a share of the apply.
 */
async function measureWriteCost(ctx: BenchContext, events: number) {
  ctx.log(`change feed: the log's share of an apply of ${events} events`);
  const records = [...seedRecords(events)];
  const store = openStoreWriter({ path: ctx.dir('change-apply') });
  let started = performance.now();
  store.applyFeed('bench', records, {
    at: Date.now(),
    validators: { urlDigest: null, etag: null, lastModified: null, hash: 'bench' },
  });
  const applyMs = performance.now() - started;
  await store.close();
  const root = open({ path: ctx.dir('change-log-alone'), noSubdir: false, maxDbs: 1 });
  const log = root.openDB<[string, number, string], [number, number]>('changes', {
    encoding: 'msgpack',
  });
  started = performance.now();
  const now = Date.now();
  root.transactionSync(() => {
    for (const [seq, record] of records.entries()) {
      log.putSync([1, seq], ['bench', now, record.summary]);
    }
  });
  const logMs = performance.now() - started;
  await root.close();
  return { events, applyMs, logMs, share: logMs / applyMs };
}
