import { createWriteStream, linkSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { basesForBytes, generateFeed } from '@tessera/simulator';
import { startApp, startNginx } from '@tessera/testkit';
import type { BenchContext, IngestReport } from '../bench-context.js';

export interface FeedsResult {
  feeds: number;
  /** Whether one of them is the slow partner (nginx limit_rate). */
  slow: boolean;
  wallMs: number;
  bytes: number;
  events: number;
  /** All feeds' bytes over the wall time of the whole `--once` run. */
  mbPerSecond: number;
  /** The quick feeds' poll durations (request to applied, i.e. visible): median and max. */
  quickMedianMs: number;
  quickMaxMs: number;
  slowMs: number | null;
  peakRssMb: number;
}

const OPTIONS = { eventsPerBase: 3, zonesPerEvent: 10, seed: 11 } as const;
const FEED_MB = 8;
/** The slow partner's rate: its feed takes about FEED_MB seconds. */
const SLOW_RATE = '1m';

/**
 * 1, 4 and 16 feeds on one node, into an empty store each time: the same generated document
 * (distinct ids per feed) from nginx, one of them (past the first case) from a location
 * throttled to 1 MB/s. Per feed, the time from its request to its events being visible; for the
 * run, the total rate and the peak RSS. Several feeds in a cluster: cluster-feeds.ts.
 */
export async function runFeeds(ctx: BenchContext): Promise<FeedsResult[]> {
  const nginx = await startNginx({
    server: ['location /fast/ { }', `location /slow/ { limit_rate ${SLOW_RATE}; }`].join('\n    '),
  });
  try {
    mkdirSync(join(nginx.root, 'fast'));
    mkdirSync(join(nginx.root, 'slow'));
    const file = join(nginx.root, 'fast', 'feed.xml');
    const bases = basesForBytes(FEED_MB * 1e6, OPTIONS);
    await pipeline(Readable.from(generateFeed({ ...OPTIONS, bases })), createWriteStream(file));
    linkSync(file, join(nginx.root, 'slow', 'feed.xml'));
    const results: FeedsResult[] = [];
    for (const count of [1, 4, 16]) {
      ctx.log(`feeds: ${count} feed(s) of ~${FEED_MB} MB${count > 1 ? ', one slow' : ''}`);
      const feeds = Array.from({ length: count }, (_, i) => ({
        id: `feed-${i}`,
        url: `${nginx.origin}/${count > 1 && i === count - 1 ? 'slow' : 'fast'}/feed.xml`,
      }));
      const started = performance.now();
      const run = startApp(
        'ingestor',
        { LOG_LEVEL: 'silent', DATA_DIR: ctx.dir(`feeds-${count}`), FEEDS: JSON.stringify(feeds) },
        ['--once', '--json'],
      );
      const code = await run.exited;
      const wallMs = performance.now() - started;
      if (code !== 0) throw new Error(`the ${count}-feed ingest failed (${code}): ${run.output()}`);
      const reports = JSON.parse(run.stdout()) as Array<IngestReport & { feed: string }>;
      const slowId = count > 1 ? `feed-${count - 1}` : undefined;
      const quick = reports
        .filter((r) => r.feed !== slowId)
        .map((r) => r.durationMs)
        .sort((a, b) => a - b);
      const bytes = reports.reduce((sum, r) => sum + r.bytes, 0);
      results.push({
        feeds: count,
        slow: slowId !== undefined,
        wallMs,
        bytes,
        events: reports.reduce((sum, r) => sum + r.events, 0),
        mbPerSecond: bytes / 1024 ** 2 / (wallMs / 1000),
        quickMedianMs: quick[Math.floor(quick.length / 2)] ?? 0,
        quickMaxMs: quick.at(-1) ?? 0,
        slowMs: reports.find((r) => r.feed === slowId)?.durationMs ?? null,
        peakRssMb: reports[0]?.peakRssMb ?? 0,
      });
    }
    ctx.command(
      `DATA_DIR=fresh FEEDS='[{"id":"feed-0","url":"http://nginx/fast/feed.xml"},…,{"id":"feed-15","url":"http://nginx/slow/feed.xml"}]' node apps/ingestor/dist/main.js --once --json  # 1, 4, 16 feeds of ~${FEED_MB} MB, the last at limit_rate ${SLOW_RATE}`,
    );
    return results;
  } finally {
    await nginx.stop();
  }
}
