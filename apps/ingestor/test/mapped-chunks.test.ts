import { createTimeZone, type FeedReading } from '@tessera/core';
import { PARTNER_EXAMPLES } from '@tessera/fixtures';
import {
  compileMapping,
  createRecordStream,
  type Mapping,
  parseFeedFormat,
} from '@tessera/mapping';
import { generatePartnerFeed } from '@tessera/simulator';
import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from './harness.js';

const SEED = Number(process.env.PARTNER_SEED ?? Date.now() % 1_000_000);
let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

/** The whole document read as one stream on this thread: no cutting, no workers. */
function streamed(mapping: Mapping, text: string, timeZone: string): FeedReading {
  const stream = createRecordStream(
    compileMapping(mapping),
    { provider: 'feverup', timeZone: createTimeZone(timeZone) },
    { maxRecordChars: 1 << 24, maxDepth: 32 },
  );
  stream.write(text);
  stream.end();
  return stream.take();
}

describe(`a mapped feed cut into many chunks for the workers reads as the same feed streamed whole (PARTNER_SEED=${SEED})`, () => {
  it.each([
    ['json', PARTNER_EXAMPLES.tm],
    ['xml', PARTNER_EXAMPLES.xs],
  ] as const)('%s', async (format, example) => {
    const feed = { format, records: 400, prices: 6, seed: SEED, flawRatio: 0.2, offlineRatio: 0.2 };
    const text = Buffer.concat([...generatePartnerFeed(feed)]).toString('utf8');
    const mapping = parseFeedFormat(example.mapping) as Mapping;
    harness = await createHarness({
      source: { kind: 'partner', ...feed },
      fetcher: { expects: format },
      // Chunks of a few records each, read in runs of one or two: every cut and carry is exercised.
      poll: { format: mapping, timeZone: example.timeZone, chunkBytes: 2048, runBytes: 300 },
    });
    const report = await harness.poll();
    const truth = streamed(mapping, text, example.timeZone);
    const where = `PARTNER_SEED=${SEED}`;
    expect(report.error, where).toBeNull();
    expect(report.events, where).toBe(truth.records.length);
    expect(report.offline, where).toBe(truth.offline);
    const rejected: Record<string, number> = {};
    for (const r of truth.rejections) rejected[r.code] = (rejected[r.code] ?? 0) + 1;
    expect(report.rejected, where).toEqual(rejected);
    const byId = (a: Record<string, unknown>, b: Record<string, unknown>) =>
      String(a.id).localeCompare(String(b.id));
    expect(harness.summaries().sort(byId), where).toEqual(
      truth.records.map((r) => JSON.parse(r.summary)).sort(byId),
    );
  });
});
