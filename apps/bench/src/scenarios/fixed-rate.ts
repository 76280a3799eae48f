import { basesForBytes } from '@tessera/simulator';
import { startApp, waitUntil } from '@tessera/testkit';
import type { BenchContext } from '../bench-context.js';
import {
  FIXED_RATE_CLIENTS,
  type FixedRate,
  measureFixedRate,
  oneUrlLoad,
} from '../fixed-rate-load.js';

export interface FixedRateResult extends FixedRate {
  during: 'idle ingestor' | 'ingesting';
  /** Feeds applied during the measurement (while ingesting). */
  feedsApplied: number;
  /** Load generator on one core, API and ingestor on the other; or everything anywhere. */
  pinned: boolean;
}

const RATES = [5_000, 10_000];
/** The "server machine" (API, ingestor) and the "outside world" (load generator, simulator). */
const SERVER_CORE = '1';
const CLIENT_CORE = '0';

/**
 * /search at fixed request rates, with the ingestor idle and then ingesting ~150 MB feeds in a
 * loop. Pinned, the load generator (and the simulator, which stands for a remote partner) keep
 * to one core and the API and the ingestor to the other, so that the figures measure the server;
 * unpinned, everything shares both cores, as on a small machine that also runs the load.
 */
export async function runFixedRate(
  ctx: BenchContext,
  dataDir: string,
  query: string,
): Promise<FixedRateResult[]> {
  const results: FixedRateResult[] = [];
  const seconds = ctx.config.BENCH_FIXED_SECONDS;
  for (const pinned of [true, false]) {
    const server = pinned ? { wrapper: ['taskset', '-c', SERVER_CORE] } : {};
    const core = pinned ? CLIENT_CORE : undefined;
    const workers = pinned ? '1' : '2';
    const { api, base } = await ctx.startApi(dataDir, { API_WORKERS: workers }, server);
    const url = `${base}/search${query}`;
    for (const rate of RATES) {
      ctx.log(`fixed rate ${rate}/s, idle ingestor${pinned ? ', pinned' : ''}`);
      const measured = await measureFixedRate(oneUrlLoad(url, rate, seconds, core));
      results.push({ ...measured, during: 'idle ingestor', feedsApplied: 0, pinned });
    }
    await ctx.setSource({
      kind: 'generated',
      bases: basesForBytes(150e6, { zonesPerEvent: 100 }),
      eventsPerBase: 3,
      zonesPerEvent: 100,
      seed: 1,
      evolve: true,
    });
    const ingestor = startApp(
      'ingestor',
      { DATA_DIR: dataDir, PROVIDER_URL: ctx.feedUrl, POLL_INTERVAL_MS: '1', LOG_LEVEL: 'info' },
      [],
      server,
    );
    const applied = () => ingestor.logs().filter((line) => line.msg === 'poll applied').length;
    await waitUntil(() => applied() > 0, { what: 'a first loop ingest', timeoutMs: 180_000 });
    for (const rate of RATES) {
      ctx.log(`fixed rate ${rate}/s while ingesting${pinned ? ', pinned' : ''}`);
      const before = applied();
      const measured = await measureFixedRate(oneUrlLoad(url, rate, seconds, core));
      results.push({ ...measured, during: 'ingesting', feedsApplied: applied() - before, pinned });
    }
    await ingestor.stop();
    await api.stop();
    ctx.command(
      `${pinned ? `taskset -c ${CLIENT_CORE} ` : ''}h2load --h1 -c1 --rps=RATE/${FIXED_RATE_CLIENTS} -D${seconds} --log-file=… 'http://127.0.0.1:PORT/search${query}'  # × ${FIXED_RATE_CLIENTS} processes; RATE in ${RATES.join(', ')}; API_WORKERS=${workers}${pinned ? `, API and ingestor at taskset -c ${SERVER_CORE}` : ''}`,
    );
  }
  return results;
}
