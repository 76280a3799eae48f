import { openStoreWriter } from '@tessera/store';
import { seedStore } from '@tessera/testkit';
import type { BenchContext } from '../bench-context.js';
import type { Throughput } from '../load.js';
import {
  LOAD_CORE,
  measureInRounds,
  medianRun,
  pairedRatio,
  type RoundServer,
  SERVER_CORE,
} from '../paired-rounds.js';

const SEEDED_FROM = Date.parse('2000-01-01T00:00:00Z');
/** seedStore's default density: 50 events a week, one every 12,096 s, whatever the store size. */
const SPACING_MS = (7 * 86_400_000) / 50;
/** Longest seeded event; the next one starts later than this after its predecessor. */
const LONGEST_MS = 2 * 3_600_000;
const RESULT_SIZES = [1, 10, 100, 1_000, 10_000];
const STORE_SIZES = [10_000, 100_000, 1_000_000];
/** The result size of the store-size curve. */
const STORE_CURVE_EVENTS = 100;

export interface CostPoint {
  storeEvents: number;
  /** Events in the answer, as served. */
  events: number;
  bodyBytes: number;
  /** The same window asked again and again: served from the response cache. */
  cached: Throughput;
  /** The cache off and admission control opened up: every request a fresh range scan. */
  uncached: Throughput;
  /**
   * Uncached over cached req/s: the median of the rounds' own ratios (each round measures both,
   * back to back), since a shared VM's speed drifts within minutes.
   */
  uncachedShare?: number;
}

/** Rounds per point, each measuring both modes in alternating order. */
const ROUNDS = 3;

export interface CostCurveResult {
  connections: number;
  seconds: number;
  byResultSize: CostPoint[];
  byStoreSize: CostPoint[];
}

/**
 * How /search's cost grows: with the size of the answer (1 to 10k events from one store) and
 * with the size of the store (10k to 1M events, the same 100-event window). One API process on
 * its own core, the load generator on the other, each point measured cached and uncached in
 * ROUNDS alternating rounds.
 */
export async function runCostCurve(
  ctx: BenchContext,
  seeded: { dir: string; events: number },
): Promise<CostCurveResult> {
  const seconds = Math.max(3, Math.round(ctx.config.BENCH_SECONDS / 3));
  const connections = 16;
  const stores = new Map<number, string>([[seeded.events, seeded.dir]]);
  const storeOf = async (events: number): Promise<string> => {
    let dir = stores.get(events);
    if (dir === undefined) {
      ctx.log(`cost curve: seeding ${events} events`);
      dir = ctx.dir(`curve-${events}`);
      const writer = openStoreWriter({ path: dir });
      seedStore(writer, events);
      await writer.close();
      stores.set(events, dir);
    }
    return dir;
  };

  const measure = async (storeEvents: number, resultEvents: number): Promise<CostPoint> => {
    ctx.log(`cost curve: ${resultEvents} of ${storeEvents} events`);
    // The window opens on an event a quarter into the smallest store and closes after the
    // last wanted one ends, before the next one starts: exactly `resultEvents` events.
    const first = SEEDED_FROM + Math.floor(STORE_SIZES[0]! / 4) * SPACING_MS;
    const last = first + (resultEvents - 1) * SPACING_MS;
    const query = `?starts_at=${iso(first)}&ends_at=${iso(last + LONGEST_MS)}`;
    const dir = await storeOf(storeEvents);
    // Both servers run throughout, idle but for their turn, so that the rounds alternate.
    const uncachedEnv = {
      CACHE_MAX_BYTES: '0',
      SCAN_CONCURRENCY: String(connections),
      SCAN_EVENTS_PER_SECOND: String(1e9),
    };
    const servers = {
      cached: await ctx.startApi(
        dir,
        { API_WORKERS: '1' },
        { wrapper: ['taskset', '-c', SERVER_CORE] },
      ),
      uncached: await ctx.startApi(
        dir,
        { API_WORKERS: '1', ...uncachedEnv },
        { wrapper: ['taskset', '-c', SERVER_CORE] },
      ),
    };
    try {
      const body = Buffer.from(
        await (await fetch(`${servers.cached.base}/search${query}`)).arrayBuffer(),
      );
      const events = (JSON.parse(body.toString()) as { data: { events: unknown[] } }).data.events
        .length;
      const asRound = ({ base, api }: (typeof servers)['cached']): RoundServer => ({
        base,
        pid: api.child.pid!,
        stop: () => api.stop(),
      });
      const measured = await measureInRounds(
        { cached: asRound(servers.cached), uncached: asRound(servers.uncached) },
        `/search${query}`,
        { rounds: ROUNDS, seconds, connections },
      );
      return {
        storeEvents,
        events,
        bodyBytes: body.length,
        cached: medianRun(measured.cached),
        uncached: medianRun(measured.uncached),
        uncachedShare: pairedRatio(measured.uncached, measured.cached).requestsPerSecond,
      };
    } finally {
      await Promise.all([servers.cached.api.stop(), servers.uncached.api.stop()]);
    }
  };

  const byResultSize: CostPoint[] = [];
  const resultStore = Math.max(
    ...STORE_SIZES.filter((size) => size <= seeded.events),
    STORE_SIZES[0]!,
  );
  for (const events of RESULT_SIZES.filter((n) => n <= resultStore / 4)) {
    byResultSize.push(await measure(resultStore, events));
  }
  const byStoreSize: CostPoint[] = [];
  for (const storeEvents of STORE_SIZES) {
    byStoreSize.push(await measure(storeEvents, STORE_CURVE_EVENTS));
  }
  ctx.command(
    `taskset -c ${LOAD_CORE} wrk -t1 -c${connections} -d${seconds}s --latency 'http://127.0.0.1:PORT/search?starts_at=…&ends_at=…'  # per point, ${ROUNDS} rounds alternating two API processes at taskset -c ${SERVER_CORE}: defaults (cached), and CACHE_MAX_BYTES=0 SCAN_CONCURRENCY=${connections} SCAN_EVENTS_PER_SECOND=1e9 (uncached)`,
  );
  return { connections, seconds, byResultSize, byStoreSize };
}

const iso = (t: number) => `${new Date(t).toISOString().slice(0, 19)}Z`;
