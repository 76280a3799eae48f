import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { basesForBytes } from '@tessera/simulator';
import { freePort, startApp, startNode, waitUntil, weekWindow } from '@tessera/testkit';
import type { BenchContext } from '../bench-context.js';
import type { FixedRate } from '../load.js';
import { MIX_SHARES, type MixKind, type MixLoadArgs, type MixSpace } from '../traffic-mix.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const SERVER_CORE = '1';
const CLIENT_CORE = '0';
const RATES = [5_000, 10_000];
/** How often the partner's feed changes, and so how often every cached answer goes stale. */
const POLL_MS = 30_000;
const SEED = 29;

export interface TrafficMixResult extends FixedRate {
  /** Requests of each kind sent (see MIX_SHARES). */
  kinds: Record<MixKind, number>;
  /** Feed polls applied (each a new store version) during the measurement. */
  feedsApplied: number;
  /**
   * The same load against raw node:http answering every path with one small body, on the same
   * core: the latency the load generator itself adds at this rate, below which no server here
   * can be measured.
   */
  generatorFloor: FixedRate['latencyMs'];
}

export interface TrafficMix {
  days: number;
  pollMs: number;
  seed: number;
  shares: typeof MIX_SHARES;
  rates: TrafficMixResult[];
}

/**
 * /search and /events/{id} at fixed rates under a realistic mix (traffic-mix.ts) rather than one
 * window: most answers come from the cache, a "from now" window misses it once a second, and a
 * partner's feed that changes every 30 s (the ingestor polling it into the same store) makes
 * every cached answer stale as production does. API (one worker) and ingestor on one core, the
 * load generator and the partner on the other. The same load against raw node:http gives the
 * load generator's own latency at each rate, beside Tessera's.
 */
export async function runTrafficMix(
  ctx: BenchContext,
  dataDir: string,
  events: number,
): Promise<TrafficMix> {
  const seconds = ctx.config.BENCH_FIXED_SECONDS;
  const space: MixSpace = {
    firstDay: Date.parse(weekWindow(events).startsAt),
    events,
    days: 1_000,
  };
  const pinned = { wrapper: ['taskset', '-c', SERVER_CORE] };
  const { api, base } = await ctx.startApi(dataDir, { API_WORKERS: '1' }, pinned);
  await ctx.setSource({
    kind: 'generated',
    bases: basesForBytes(5e6, { zonesPerEvent: 20 }),
    eventsPerBase: 3,
    zonesPerEvent: 20,
    seed: SEED,
    evolve: true,
  });
  const ingestor = startApp(
    'ingestor',
    {
      DATA_DIR: dataDir,
      PROVIDER_URL: ctx.feedUrl,
      POLL_INTERVAL_MS: String(POLL_MS),
      LOG_LEVEL: 'info',
    },
    [],
    pinned,
  );
  const applied = () => ingestor.logs().filter((line) => line.msg === 'poll applied').length;
  const rates: TrafficMixResult[] = [];
  const floorBody = join(ctx.dir('mix-floor'), 'body.json');
  writeFileSync(floorBody, '{"data":{"events":[]},"error":null}');
  const floorPort = await freePort();
  const floor = startNode(
    join(HERE, '..', 'raw-server.js'),
    [floorBody, String(floorPort)],
    pinned,
  );
  try {
    await waitUntil(() => applied() > 0, { what: "the partner's first poll", timeoutMs: 120_000 });
    for (const rate of RATES) {
      ctx.log(`traffic mix at ${rate}/s, a feed change every ${POLL_MS / 1000} s`);
      // Warm-up, not measured: JIT, connections and the popular windows' cache entries settle.
      await runMixLoad({ base, rate, seconds: 5, connections: 100, seed: SEED + rate, space });
      const before = applied();
      const load = await runMixLoad({ base, rate, seconds, connections: 100, seed: SEED, space });
      const feedsApplied = applied() - before;
      await floor.waitForOutput(/listening/);
      const generator = await runMixLoad({
        base: `http://127.0.0.1:${floorPort}`,
        rate,
        seconds,
        connections: 100,
        seed: SEED,
        space,
      });
      rates.push({
        targetRate: rate,
        achievedRate: load.requests / seconds,
        ...load,
        feedsApplied,
        generatorFloor: generator.latencyMs,
      });
    }
  } finally {
    await Promise.all([ingestor.stop(), api.stop(), floor.stop()]);
  }
  ctx.command(
    `taskset -c ${CLIENT_CORE} node apps/bench/dist/mix-load.js '{"rate":R,"seconds":${seconds},"connections":100,"seed":${SEED},…}'  # R in ${RATES.join(', ')}; API (API_WORKERS=1) and ingestor (POLL_INTERVAL_MS=${POLL_MS}) at taskset -c ${SERVER_CORE}`,
  );
  return { days: space.days, pollMs: POLL_MS, seed: SEED, shares: MIX_SHARES, rates };
}

interface MixLoad {
  requests: number;
  latencyMs: FixedRate['latencyMs'];
  errors: number;
  non2xx: number;
  kinds: Record<MixKind, number>;
}

async function runMixLoad(args: MixLoadArgs): Promise<MixLoad> {
  const load = startNode(join(HERE, '..', 'mix-load.js'), [JSON.stringify(args)], {
    wrapper: ['taskset', '-c', CLIENT_CORE],
  });
  const code = await load.exited;
  if (code !== 0) throw new Error(`the mix's load generator exited ${code}: ${load.stderr()}`);
  return JSON.parse(load.stdout().trim().split('\n').at(-1) ?? '{}') as MixLoad;
}
