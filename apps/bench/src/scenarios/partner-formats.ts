import { PARTNER_EXAMPLES } from '@tessera/fixtures';
import { partnerRecordsForBytes } from '@tessera/simulator';
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

/**
 * Whole `--once` runs of a partner in its own format into an empty store, 2 parse threads: the
 * JSON and XML shapes of the partner examples at the large feed's size, through their mappings
 * (the report sets them beside the built-in path's large feed of the same run).
 */
export async function runPartnerFormats(ctx: BenchContext): Promise<PartnerFormatResult[]> {
  const mb = ctx.config.BENCH_LARGE_MB;
  const results: PartnerFormatResult[] = [];
  for (const format of ['xml', 'json'] as const) {
    const example = FEEDS[format];
    const shape = { format, prices: 20, seed: 7 };
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
