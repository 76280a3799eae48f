import { openStoreWriter } from '@tessera/store';
import { seedStore } from '@tessera/testkit';
import type { BenchContext } from '../bench-context.js';
import { measureThroughput, type Throughput } from '../load.js';

const SERVER_CORE = '1';
const LOAD_CORE = '0';
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
}

export interface CostCurveResult {
  connections: number;
  seconds: number;
  byResultSize: CostPoint[];
  byStoreSize: CostPoint[];
}

/**
 * How /search's cost grows: with the size of the answer (1 to 10k events from one store) and
 * with the size of the store (10k to 1M events, the same 100-event window). One API process on
 * its own core, the load generator on the other, each point measured cached and uncached.
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
    const point: Partial<CostPoint> = { storeEvents };
    for (const mode of ['cached', 'uncached'] as const) {
      const env: Record<string, string> = { API_WORKERS: '1' };
      if (mode === 'uncached') {
        Object.assign(env, {
          CACHE_MAX_BYTES: '0',
          SCAN_CONCURRENCY: String(connections),
          SCAN_EVENTS_PER_SECOND: String(1e9),
        });
      }
      const { api, base } = await ctx.startApi(dir, env, {
        wrapper: ['taskset', '-c', SERVER_CORE],
      });
      try {
        const body = Buffer.from(await (await fetch(`${base}/search${query}`)).arrayBuffer());
        point.bodyBytes = body.length;
        point.events = (
          JSON.parse(body.toString()) as { data: { events: unknown[] } }
        ).data.events.length;
        point[mode] = await measureThroughput(
          `${base}/search${query}`,
          seconds,
          connections,
          LOAD_CORE,
        );
      } finally {
        await api.stop();
      }
    }
    return point as CostPoint;
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
    `taskset -c ${LOAD_CORE} wrk -t1 -c${connections} -d${seconds}s --latency 'http://127.0.0.1:PORT/search?starts_at=…&ends_at=…'  # per point, against one API process at taskset -c ${SERVER_CORE}: defaults (cached), then CACHE_MAX_BYTES=0 SCAN_CONCURRENCY=${connections} SCAN_EVENTS_PER_SECOND=1e9 (uncached)`,
  );
  return { connections, seconds, byResultSize, byStoreSize };
}

const iso = (t: number) => `${new Date(t).toISOString().slice(0, 19)}Z`;
