import { createWriteStream, linkSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { basesForBytes, generateFeed } from '@tessera/simulator';
import { startNginx } from '@tessera/testkit';
import type { BenchContext } from '../bench-context.js';

export interface RealServerResult {
  feed: string;
  /** What the partner sent: `plain` or `gzip` (nginx gzip_static, connection closed after). */
  encoding: 'plain' | 'gzip';
  wireBytes: number;
  bytes: number;
  events: number;
  ms: number;
  mbPerSecond: number;
  peakRssMb: number;
}

const OPTIONS = { eventsPerBase: 3, zonesPerEvent: 100, seed: 7 } as const;

/**
 * The same large feed from Debian's nginx, plain and gzipped (gzip_static, keepalive_timeout 0:
 * an answer that ends with its connection), each into an empty store.
 */
export async function runRealServer(ctx: BenchContext): Promise<RealServerResult[]> {
  const mb = ctx.config.BENCH_LARGE_MB;
  const label = mb >= 1000 ? `~${mb / 1000} GB` : `~${mb} MB`;
  const nginx = await startNginx({
    server: [
      'location /plain/ { keepalive_timeout 0; }',
      'location /gz/ { gzip_static on; keepalive_timeout 0; }',
    ].join('\n    '),
  });
  try {
    ctx.log(`real server: writing the ${label} feed and its gzip for nginx`);
    mkdirSync(join(nginx.root, 'plain'));
    mkdirSync(join(nginx.root, 'gz'));
    const file = join(nginx.root, 'plain', 'feed.xml');
    const bases = basesForBytes(mb * 1e6, OPTIONS);
    await pipeline(Readable.from(generateFeed({ ...OPTIONS, bases })), createWriteStream(file));
    linkSync(file, join(nginx.root, 'gz', 'feed.xml'));
    const gz = join(nginx.root, 'gz', 'feed.xml.gz');
    await pipeline(
      Readable.from(generateFeed({ ...OPTIONS, bases })),
      createGzip(),
      createWriteStream(gz),
    );
    const results: RealServerResult[] = [];
    for (const [encoding, path, wire] of [
      ['plain', '/plain/feed.xml', file],
      ['gzip', '/gz/feed.xml', gz],
    ] as const) {
      ctx.log(`real server: ingest ${label} ${encoding} through nginx`);
      const report = await ctx.ingestOnce({
        DATA_DIR: ctx.dir(`real-server-${encoding}`),
        PROVIDER_URL: `${nginx.origin}${path}`,
      });
      results.push({
        feed: label,
        encoding,
        wireBytes: statSync(wire).size,
        bytes: report.bytes,
        events: report.events,
        ms: report.durationMs,
        mbPerSecond: report.bytes / 1024 ** 2 / (report.durationMs / 1000),
        peakRssMb: report.peakRssMb,
      });
    }
    ctx.command(
      'nginx 1.22 on loopback (gzip_static on; keepalive_timeout 0), ingestor --once --json',
    );
    return results;
  } finally {
    await nginx.stop();
  }
}
