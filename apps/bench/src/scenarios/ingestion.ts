import { basesForBytes } from '@tessera/simulator';
import { APP_ENVIRONMENT, APP_NODE_OPTIONS, type AppName } from '@tessera/testkit';
import type { BenchContext, IngestReport } from '../bench-context.js';

export interface IngestResult {
  feed: string;
  threads: number;
  bytes: number;
  events: number;
  ms: number;
  mbPerSecond: number;
  eventsPerSecond: number;
  peakRssMb: number;
  outcome: string;
  phases: IngestReport['phases'];
}

export interface UnchangedResult {
  notModified: IngestReport;
  sameBytes: IngestReport;
}

const generated = (mb: number) => ({
  kind: 'generated' as const,
  bases: basesForBytes(mb * 1e6, { zonesPerEvent: 100 }),
  eventsPerBase: 3,
  zonesPerEvent: 100,
  seed: 7,
});

/** An app's environment as a command line's leading `NAME=value ` words. */
function environmentWords(app: AppName): string {
  return Object.entries(APP_ENVIRONMENT[app])
    .map(([name, value]) => `${name}=${value} `)
    .join('');
}

/** Whole `--once` runs into an empty store: ~100 MB and the large feed, 1 and 2 parse threads. */
export async function runIngestion(ctx: BenchContext): Promise<IngestResult[]> {
  const results: IngestResult[] = [];
  const large = ctx.config.BENCH_LARGE_MB;
  for (const [label, mb] of [
    ['~100 MB', 100],
    [large >= 1000 ? `~${large / 1000} GB` : `~${large} MB`, large],
  ] as const) {
    await ctx.setSource(generated(mb));
    for (const threads of [1, 2]) {
      ctx.log(`ingest ${label} with ${threads} thread(s)`);
      const report = await ctx.ingestOnce({
        DATA_DIR: ctx.dir(`ingest-${mb}-${threads}`),
        PARSE_THREADS: String(threads),
      });
      const mib = report.bytes / 1024 ** 2;
      results.push({
        feed: label,
        threads,
        bytes: report.bytes,
        events: report.events,
        ms: report.durationMs,
        mbPerSecond: mib / (report.durationMs / 1000),
        eventsPerSecond: report.events / (report.durationMs / 1000),
        peakRssMb: report.peakRssMb,
        outcome: report.outcome,
        phases: report.phases,
      });
    }
  }
  ctx.command(
    `${environmentWords('ingestor')}PARSE_THREADS=N DATA_DIR=fresh PROVIDER_URL=simulator node ${APP_NODE_OPTIONS.ingestor.join(' ')} apps/ingestor/dist/main.js --once --json`,
  );
  return results;
}

/** The cost of a poll whose feed did not change: answered 304, or the same bytes sent again. */
export async function runUnchangedPoll(ctx: BenchContext): Promise<UnchangedResult> {
  const dir = ctx.dir('unchanged');
  await ctx.setSource(generated(100));
  await ctx.ingestOnce({ DATA_DIR: dir });
  ctx.log('unchanged polls');
  const notModified = await ctx.ingestOnce({ DATA_DIR: dir });
  // The same bytes from a partner that sends no validators.
  const sameBytes = await ctx.ingestOnce({ DATA_DIR: dir, PROVIDER_URL: `${ctx.feedUrl}?again` });
  return { notModified, sameBytes };
}
