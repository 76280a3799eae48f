import { eventIdFor } from '@tessera/core';
import { PARTNER_EXAMPLES } from '@tessera/fixtures';
import { describeFormat, type FeedFormat, parseFeedFormat } from '@tessera/mapping';
import { afterEach, describe, expect, it } from 'vitest';
import { createFeedFetcher } from '../src/feed-fetcher.js';
import { pollFeed } from '../src/feed-poll.js';
import { createHarness, type Harness } from './harness.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const { tm, xs } = PARTNER_EXAMPLES;

async function mappedHarness(
  example: typeof tm,
  options: { body?: string; contentType?: string; format?: FeedFormat; compress?: boolean } = {},
): Promise<Harness> {
  harness = await createHarness({
    source: {
      kind: 'document',
      body: options.body ?? example.document,
      contentType: options.contentType ?? example.contentType,
    },
    compress: options.compress ?? true,
    fetcher: { expects: (example.mapping as { type: 'json' | 'xml' }).type },
    poll: {
      provider: example.feed,
      timeZone: example.timeZone,
      format: options.format ?? parseFeedFormat(example.mapping),
    },
  });
  return harness;
}

const served = (example: typeof tm) =>
  example.events.map(({ baseId, eventId, startsAt: _s, endsAt: _e, ...fields }) => ({
    id: eventIdFor(example.feed, baseId, eventId),
    ...fields,
  }));

describe('a poll of a mapped feed', () => {
  it.each([
    ['tm (JSON), gzipped', tm, true],
    ['tm (JSON), plain', tm, false],
    ['xs (XML), gzipped', xs, true],
  ] as const)('%s: stores exactly the events written out by hand', async (_, example, compress) => {
    const h = await mappedHarness(example, { compress });
    const report = await h.poll();
    expect(report.error).toBeNull();
    expect(report.outcome).toBe('applied');
    expect(report.offline).toBe(example.offline);
    expect(report.rejected).toEqual(
      Object.fromEntries(example.rejected.map(([code]) => [code, 1])),
    );
    expect(h.summaries()).toEqual(served(example));
    // The same bytes again: unchanged, nothing written.
    expect((await h.poll()).outcome).toBe('not_modified');
  });

  it('the same bytes under another mapping are fetched and applied again: the mapping shapes the records', async () => {
    const h = await mappedHarness(tm, { compress: false });
    expect((await h.poll()).outcome).toBe('applied');
    const mapping = tm.mapping as { fields: Record<string, unknown> };
    const other = parseFeedFormat({ ...mapping, fields: { ...mapping.fields, title: 'id' } });
    // What the feed set builds for a feed of that format: a fetcher whose validators it shapes.
    const fetcher = createFeedFetcher({
      ...h.fetcherOptions,
      expects: 'json',
      shapedBy: describeFormat(other),
    });
    try {
      const again = await pollFeed(
        { ...h.deps, format: other, fetcher },
        new AbortController().signal,
      );
      expect(again.outcome).toBe('applied');
      expect(h.summaries().map((s) => s.title)).toEqual(['vv1', 'vv3']);
    } finally {
      await fetcher.close();
    }
  });

  it.each([
    ['another shape', '{"data":[]}', 'feed_mismatch'],
    ['broken JSON', '{"_embedded":{"events":[{"id":"a",', 'feed_malformed'],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0x7d]).toString('latin1'), 'feed_malformed'],
  ])('%s fails the poll with its own code and changes nothing', async (_, body, code) => {
    const h = await mappedHarness(tm);
    expect((await h.poll()).outcome).toBe('applied');
    const before = h.summaries();
    await h.sim.setSource({ kind: 'document', body, contentType: tm.contentType });
    const report = await h.poll();
    expect(report.outcome).toBe('failed');
    expect(report.error?.code).toBe(code);
    expect(h.summaries()).toEqual(before);
  });

  it('a JSON feed answered with XML is refused by its Content-Type', async () => {
    const h = await mappedHarness(tm, { contentType: 'application/xml' });
    const report = await h.poll();
    expect(report.error?.code).toBe('feed_not_json');
    expect(h.summaries()).toEqual([]);
  });
});
