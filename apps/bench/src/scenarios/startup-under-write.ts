import { startApp, waitUntil } from '@tessera/testkit';
import type { BenchContext } from '../bench-context.js';
import { median } from '../percentile.js';

export interface StartupResult {
  /** API start to its first /search answer, store idle: the median of `idleRuns`. */
  idleMs: number;
  /** The same while the ingestor is half-way through receiving a feed (the partner holding it). */
  underWriteMs: number;
  apiWorkers: number;
  /** Every start's ms, in run order, STARTS in each state (absent in reports before: one start). */
  idleRuns?: number[];
  underWriteRuns?: number[];
}

/** One start is one sample of a process that loads hundreds of files on a shared VM. */
const STARTS = 5;

const FIXTURE_WINDOW = '?starts_at=2021-01-01T00:00:00Z&ends_at=2022-12-31T00:00:00Z';

/** How long a new API process takes to answer, with the store idle and with a feed being written. */
export async function runStartupUnderWrite(ctx: BenchContext): Promise<StartupResult> {
  const dir = ctx.dir('startup');
  await ctx.setSource({ kind: 'fixtures', response: 1 });
  await ctx.ingestOnce({ DATA_DIR: dir });
  const workers = 2;
  const idleRuns = await timeStarts(ctx, dir, workers);

  await ctx.setSource({
    kind: 'generated',
    bases: 2_000,
    eventsPerBase: 2,
    zonesPerEvent: 30,
    seed: 3,
    onlineRatio: 1,
  });
  await ctx.setPlan({ steps: [{ kind: 'hold', afterBytes: 3_000_000 }], afterwards: 'none' });
  const ingestor = startApp('ingestor', {
    DATA_DIR: dir,
    PROVIDER_URL: ctx.feedUrl,
    BODY_IDLE_TIMEOUT_MS: '600000',
    POLL_INTERVAL_MS: '600000',
  });
  await ingestor.waitForOutput(/"msg":"feed arriving: staging its records"/, 60_000);
  ctx.log('API start-up while a feed is half received');
  const underWriteRuns = await timeStarts(ctx, dir, workers);
  await ctx.release();
  await ingestor.waitForOutput(/"msg":"poll applied"/, 60_000);
  await ingestor.stop();
  await ctx.setPlan({ steps: [], afterwards: 'none' });
  return {
    idleMs: median(idleRuns),
    underWriteMs: median(underWriteRuns),
    apiWorkers: workers,
    idleRuns,
    underWriteRuns,
  };
}

async function timeStarts(ctx: BenchContext, dir: string, workers: number): Promise<number[]> {
  const runs: number[] = [];
  for (let i = 0; i < STARTS; i++) runs.push(await timeToFirstAnswer(ctx, dir, workers));
  return runs;
}

async function timeToFirstAnswer(ctx: BenchContext, dir: string, workers: number): Promise<number> {
  const started = performance.now();
  const { api, base } = await ctx.startApi(dir, { API_WORKERS: String(workers) });
  await waitUntil(async () => (await fetch(`${base}/search${FIXTURE_WINDOW}`)).ok, {
    what: 'a /search answer',
    intervalMs: 5,
  });
  const ms = performance.now() - started;
  await api.stop();
  return ms;
}
