import { PARTNER_EXAMPLES } from '@tessera/fixtures';
import { generateFeed, generatePartnerFeed, partnerRecordsForBytes } from '@tessera/simulator';
import type { BenchContext, IngestReport } from '../bench-context.js';

export interface PartnerFormatResult {
  format: 'json' | 'xml';
  bytes: number;
  events: number;
  ms: number;
  mbPerSecond: number;
  peakRssMb: number;
  outcome: string;
}

const FEEDS = { json: PARTNER_EXAMPLES.tm, xml: PARTNER_EXAMPLES.xs } as const;

/** Bytes per event of a feed sample. */
function bytesPerEvent(sample: Iterable<Buffer>, events: number): number {
  let bytes = 0;
  for (const piece of sample) bytes += piece.length;
  return bytes / events;
}

/**
 * Prices per event that give a partner feed the built-in large feed's bytes per event (100 zones
 * each): what a feed costs to store grows with its events, so the two are compared at the same
 * number of events per gigabyte, and differ only in how they are read.
 */
function pricesLikeBuiltIn(format: 'json' | 'xml'): number {
  const builtIn = bytesPerEvent(
    generateFeed({ bases: 20, eventsPerBase: 3, zonesPerEvent: 100, seed: 7 }),
    60,
  );
  // JSON records are events; XML records are shows of three performances.
  const perRecord = format === 'json' ? 1 : 3;
  const at = (prices: number) =>
    bytesPerEvent(
      generatePartnerFeed({ format, records: 20, prices, seed: 7, offlineRatio: 0 }),
      20 * perRecord,
    );
  const base = at(0);
  return Math.max(1, Math.round((builtIn - base) / (at(10) / 10 - base / 10)));
}

/**
 * Whole `--once` runs of a partner in its own format into an empty store, 2 parse threads: the
 * JSON and XML shapes of the partner examples at the large feed's size and events per byte,
 * through their mappings (the report sets them beside the built-in path's large feed of the
 * same run).
 */
export async function runPartnerFormats(ctx: BenchContext): Promise<PartnerFormatResult[]> {
  const mb = ctx.config.BENCH_LARGE_MB;
  const results: PartnerFormatResult[] = [];
  for (const format of ['xml', 'json'] as const) {
    const example = FEEDS[format];
    const shape = { format, prices: pricesLikeBuiltIn(format), seed: 7 };
    await ctx.setSource({
      kind: 'partner',
      ...shape,
      records: partnerRecordsForBytes(mb * 1e6, shape),
    });
    ctx.log(`ingest a ~${mb} MB ${format} partner feed through its mapping`);
    const feeds = [
      { id: example.feed, url: ctx.feedUrl, timezone: example.timeZone, format: example.mapping },
    ];
    // With FEEDS, --once --json prints one report per feed.
    const [report] = (await ctx.ingestOnce({
      DATA_DIR: ctx.dir(`partner-${format}`),
      PARSE_THREADS: '2',
      FEEDS: JSON.stringify(feeds),
    })) as unknown as IngestReport[];
    if (report === undefined) throw new Error(`no report for the ${format} partner feed`);
    const seconds = report.durationMs / 1000;
    results.push({
      format,
      bytes: report.bytes,
      events: report.events,
      ms: report.durationMs,
      mbPerSecond: report.bytes / 1e6 / seconds,
      peakRssMb: report.peakRssMb,
      outcome: report.outcome,
    });
  }
  ctx.command(
    `FEEDS='[{"id":"tm","url":…,"format":<packages/fixtures/partners/tm.mapping.json>}]' PARSE_THREADS=2 node apps/ingestor/dist/main.js --once --json`,
  );
  return results;
}
