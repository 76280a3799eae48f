import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { EventRecord, EventSummary } from '@tessera/core';
import { BUILT_IN_FORMAT } from '@tessera/mapping';
import { INITIAL_STATE } from '@tessera/store';
import type { FeedConfig } from './feed-config.js';
import type { FeedFetcher } from './feed-fetcher.js';
import { type PollReport, pollFeed } from './feed-poll.js';
import { type FetchLimits, feedPollDeps, type SharedDeps } from './feed-set.js';
import type { FeedSink } from './feed-sink.js';

export interface Preview {
  feed: string;
  format: string;
  report: PollReport;
  /** The first events read, as /search would serve them. */
  first: EventSummary[];
}

/**
 * `preview <feed>`: one poll of a configured feed (or of a file standing in for its answer,
 * `--file`, gzipped if it ends in .gz) through the whole read path, fetch, decoding, parse and
 * mapping included, into a sink that keeps the first events and writes nothing. The way to try
 * a partner's mapping before it goes live: docs/partners.md.
 */
export async function previewFeed(
  feed: FeedConfig,
  shared: SharedDeps,
  limits: FetchLimits,
  options: { file: string | undefined; limit: number },
): Promise<Preview> {
  const { fetcher, deps } = feedPollDeps(feed, shared, limits);
  const source = options.file === undefined ? fetcher : fileFetcher(options.file);
  const sink = previewSink(options.limit);
  try {
    const report = await pollFeed(
      { ...deps, fetcher: source, store: sink },
      new AbortController().signal,
    );
    return {
      feed: feed.id,
      format: feed.format === BUILT_IN_FORMAT ? BUILT_IN_FORMAT : `${feed.format.type} mapping`,
      report,
      first: sink.first.map((record) => JSON.parse(record.summary) as EventSummary),
    };
  } finally {
    await fetcher.close();
  }
}

/** A file as the partner's answer: no validators, so every preview reads it whole. */
function fileFetcher(path: string): FeedFetcher {
  return {
    async fetch() {
      const file = createReadStream(path);
      const body = path.endsWith('.gz') ? file.pipe(createGunzip()) : file;
      await new Promise<void>((resolve, reject) => {
        file.once('open', () => resolve());
        file.once('error', reject);
      });
      return {
        kind: 'feed',
        body,
        url: path,
        urlDigest: '',
        etag: null,
        lastModified: null,
        charset: null,
        movedTo: null,
      };
    },
    close: async () => {},
  };
}

/** Keeps the first `limit` records of a poll in memory and applies nothing. */
function previewSink(limit: number): FeedSink & { first: EventRecord[] } {
  const first: EventRecord[] = [];
  return {
    first,
    prepare: async () => {},
    state: () => INITIAL_STATE,
    begin() {
      let staged = 0;
      return {
        add(records) {
          staged += records.length;
          for (const record of records) if (first.length < limit) first.push(record);
        },
        apply: async () => ({ inserted: staged, updated: 0, moved: 0, unchanged: 0 }),
        close: async () => {},
      };
    },
    recordPoll: () => {},
    failureOf: () => undefined,
    close: async () => {},
  };
}

/** What `preview` prints: the counts, the first events, and each field's faults with an example. */
export function formatPreview({ feed, format, report, first }: Preview): string {
  const read =
    report.events +
    report.offline +
    Object.values(report.rejected).reduce((a, n) => a + (n ?? 0), 0);
  const lines = [
    `feed ${feed} (${format}): ${report.bytes} bytes, ${read} records read: ${report.events} events, ${report.offline} not on sale, ${read - report.events - report.offline} rejected, in ${report.durationMs} ms`,
  ];
  if (report.error !== null) {
    lines.push(`the document cannot be read: ${report.error.code}: ${report.error.message}`);
  }
  if (first.length > 0) {
    lines.push(
      `first ${first.length} events:`,
      ...first.map((event) => `  ${JSON.stringify(event)}`),
    );
  }
  const faults = Object.entries(report.faults).sort(([, a], [, b]) => b.count - a.count);
  if (faults.length > 0) {
    lines.push('rejected, by field:');
    const width = Math.max(...faults.map(([field]) => field.length));
    for (const [field, { count, example }] of faults) {
      const where = `base ${example.baseId ?? '?'}, event ${example.eventId ?? '?'}`;
      lines.push(
        `  ${field.padEnd(width)}  ${count}  e.g. ${example.code}: ${example.message} (${where})`,
      );
    }
  }
  return lines.join('\n');
}
