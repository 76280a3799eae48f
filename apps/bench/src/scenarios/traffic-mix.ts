import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { basesForBytes } from '@tessera/simulator';
import { freePort, startApp, startNode, waitUntil, weekWindow } from '@tessera/testkit';
import type { BenchContext } from '../bench-context.js';
import {
  FIXED_RATE_CLIENTS,
  type FixedRate,
  type FixedRateClient,
  measureFixedRate,
} from '../fixed-rate-load.js';
import { createTrafficMix, MIX_SHARES, type MixKind, type MixSpace } from '../traffic-mix.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const SERVER_CORE = '1';
const CLIENT_CORE = '0';
const RATES = [5_000, 10_000];
/** How often the partner's feed changes, and so how often every cached answer goes stale. */
const POLL_MS = 30_000;
const SEED = 29;

export interface TrafficMixResult extends FixedRate {
  /** Requests of each kind drawn for the measured run (see MIX_SHARES). */
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
    await floor.waitForOutput(/listening/);
    const floorBase = `http://127.0.0.1:${floorPort}`;
    for (const rate of RATES) {
      ctx.log(`traffic mix at ${rate}/s, a feed change every ${POLL_MS / 1000} s`);
      const { clients, kinds } = mixClients(space, SEED, rate, seconds);
      // The warm-up (JIT, connections, the popular windows' cache entries) draws other paths, so
      // that the measured run's first "from now" windows are not already cached.
      const warmUp = mixClients(space, SEED + rate, rate, seconds).clients;
      const load = { rate, seconds, clients, core: CLIENT_CORE };
      const before = applied();
      const measured = await measureFixedRate(
        { ...load, base },
        { ...load, base, clients: warmUp },
      );
      const feedsApplied = applied() - before;
      const generator = await measureFixedRate({ ...load, base: floorBase });
      rates.push({ ...measured, kinds, feedsApplied, generatorFloor: generator.latencyMs });
    }
  } finally {
    await Promise.all([ingestor.stop(), api.stop(), floor.stop()]);
  }
  ctx.command(
    `taskset -c ${CLIENT_CORE} h2load --h1 -c1 --rps=R/${FIXED_RATE_CLIENTS} -D${seconds} -i PATHS --log-file=…  # × ${FIXED_RATE_CLIENTS} processes, each its own paths drawn from the mix (seed ${SEED} + client); R in ${RATES.join(', ')}; API (API_WORKERS=1) and ingestor (POLL_INTERVAL_MS=${POLL_MS}) at taskset -c ${SERVER_CORE}`,
  );
  return { days: space.days, pollMs: POLL_MS, seed: SEED, shares: MIX_SHARES, rates };
}

/**
 * FIXED_RATE_CLIENTS clients' paths, each drawn from the mix with a seed of its own, as many as
 * the client sends in `seconds`; "from now" windows follow a clock that moves as the client's
 * requests fall due, as they would in a client drawing them live.
 */
function mixClients(
  space: MixSpace,
  seed: number,
  rate: number,
  seconds: number,
): { clients: FixedRateClient[]; kinds: Record<MixKind, number> } {
  const kinds: Record<MixKind, number> = { day: 0, fromNow: 0, event: 0, page: 0 };
  const perClient = rate / FIXED_RATE_CLIENTS;
  const clients = Array.from({ length: FIXED_RATE_CLIENTS }, (_, k) => {
    let clock = 0;
    const next = createTrafficMix(space, seed * 1_000 + k, () => clock);
    const paths: string[] = [];
    for (let i = 0; i < perClient * seconds; i++) {
      clock = (i * 1000) / perClient;
      const { kind, path } = next();
      kinds[kind]++;
      paths.push(path);
    }
    return { paths };
  });
  return { clients, kinds };
}
