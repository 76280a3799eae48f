import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EventRecord, eventIdFor } from '@tessera/core';
import { type Database, open } from 'lmdb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EMPTY_DIGEST } from '../src/layout.js';
import { openStoreReader } from '../src/store-reader.js';
import { MAX_RUNS } from '../src/store-state.js';
import { openStoreWriter, type StoreWriter } from '../src/store-writer.js';

const validators = { urlDigest: null, etag: null, lastModified: null, hash: 'h' };
const commit = (at: number) => ({ at, endedAt: at + 5, validators });

function record(feed: string, n: number): EventRecord {
  const id = eventIdFor(feed, '1', String(n));
  const startsAt = Date.parse('2021-06-01T00:00:00Z') + n * 3_600_000;
  return {
    id,
    startsAt,
    endsAt: startsAt + 60_000,
    summary: JSON.stringify({ id, title: `${feed} ${n}` }),
  };
}
const feedOf = (feed: string, count: number) =>
  Array.from({ length: count }, (_, i) => record(feed, i));

let dir: string;
let store: StoreWriter;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-feeds-'));
  store = openStoreWriter({ path: dir });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('one record per feed', () => {
  it('keeps each feed its own state, events and runs; adding a feed adds a record', () => {
    store.applyFeed('quick', feedOf('quick', 3), commit(10));
    store.recordPoll('slow', {
      ok: false,
      at: 20,
      endedAt: 25,
      code: 'provider_timeout',
      message: 't',
    });
    store.applyFeed('slow', feedOf('slow', 2), commit(30));
    store.recordPoll('quick', { ok: false, at: 40, code: 'provider_status', message: '503' });
    const byId = Object.fromEntries(store.feeds().map((f) => [f.id, f]));
    expect(Object.keys(byId).sort()).toEqual(['quick', 'slow']);
    expect(byId.quick).toMatchObject({
      events: 3,
      state: {
        lastSuccessAt: 10,
        consecutiveFailures: 1,
        lastErrorCode: 'provider_status',
        failingSince: 40,
      },
    });
    expect(byId.slow).toMatchObject({
      events: 2,
      state: { lastSuccessAt: 30, consecutiveFailures: 0 },
    });
    expect(byId.slow?.runs).toEqual([
      { startedAt: 20, durationMs: 5, outcome: 'failed', code: 'provider_timeout', counts: null },
      {
        startedAt: 30,
        durationMs: 5,
        outcome: 'applied',
        code: null,
        counts: { inserted: 2, updated: 0, moved: 0, unchanged: 0 },
      },
    ]);
    expect(store.count()).toBe(5);
  });

  it(`keeps a feed's last ${MAX_RUNS} runs`, () => {
    for (let at = 1; at <= MAX_RUNS + 5; at++) store.recordPoll('a', { ok: true, at });
    const runs = store.feeds()[0]?.runs ?? [];
    expect(runs).toHaveLength(MAX_RUNS);
    expect(runs[0]?.startedAt).toBe(6);
    expect(runs.at(-1)?.startedAt).toBe(MAX_RUNS + 5);
  });

  it('marks the configured feeds; one left out keeps its record and events, unconfigured', () => {
    store.configureFeeds([
      { id: 'a', url: 'https://a.example/feed' },
      { id: 'b', url: 'https://b.example/feed?key=…' },
    ]);
    store.applyFeed('a', feedOf('a', 2), commit(1));
    store.applyFeed('b', feedOf('b', 1), commit(1));
    store.configureFeeds([{ id: 'b', url: 'https://b.example/feed?key=…' }]);
    expect(store.feeds().map((f) => [f.id, f.configured, f.events, f.url])).toEqual([
      ['a', false, 2, 'https://a.example/feed'],
      ['b', true, 1, 'https://b.example/feed?key=…'],
    ]);
    expect(store.count()).toBe(3);
  });

  it('keeps a feed paused across polls, applies and a reopen, until resumed', async () => {
    store.applyFeed('a', feedOf('a', 1), commit(1));
    store.recordPaused('a', true);
    store.recordPoll('a', { ok: true, at: 2 });
    store.applyFeed('a', feedOf('a', 2), commit(3));
    store.configureFeeds([{ id: 'a', url: 'https://a.example/feed' }]);
    await store.close();
    store = openStoreWriter({ path: dir });
    const reader = openStoreReader({ path: dir });
    try {
      expect(reader.feeds().map((f) => [f.id, f.paused, f.events])).toEqual([['a', true, 2]]);
    } finally {
      await reader.close();
    }
    store.recordPaused('a', false);
    expect(store.feeds().map((f) => f.paused)).toEqual([false]);
    // A feed never paused reads as not paused (records written before the field existed too).
    store.recordPoll('b', { ok: true, at: 4 });
    expect(store.feeds().find((f) => f.id === 'b')?.paused).toBe(false);
  });
});

/**
 * Rewrites the store in `dir` to what layout 4 wrote: `ids` entries without their feed, no feed
 * digests, the cluster position under `cluster`; `then` goes further back, in the same transaction.
 */
async function asLayout4(then?: (meta: Database) => void): Promise<void> {
  await store.close();
  const raw = open({ path: dir, noSubdir: false, maxDbs: 4 });
  const meta = raw.openDB({ name: 'meta', encoding: 'msgpack' });
  const ids = raw.openDB({ name: 'ids', encoding: 'msgpack' });
  await raw.transaction(() => {
    for (const { key, value } of ids.getRange({})) {
      const [startsAt, digest, movedAt] = value as [number, string, number | null];
      ids.put(key, movedAt === null ? [startsAt, digest] : [startsAt, digest, movedAt]);
    }
    for (const key of meta.getKeys({ start: 'digest/', end: 'digest0' })) meta.remove(key);
    const position = meta.get('replicated');
    if (position !== undefined) {
      meta.put('cluster', position);
      meta.remove('replicated');
    }
    meta.put('layout', 4);
    then?.(meta);
  });
  await raw.close();
}

describe('a store of layout 4 (feeds, but events without theirs)', () => {
  it("of one feed: its events become that feed's, its digest the store's", async () => {
    store.applyFeed('feverup', feedOf('feverup', 4), commit(7));
    const before = { head: store.head(), digest: store.digest() };
    await asLayout4((meta) => meta.put('cluster', { datasetId: 'd', appliedSequence: 9 }));
    store = openStoreWriter({ path: dir });
    expect(store.head()).toEqual(before.head);
    expect(store.digest()).toBe(before.digest);
    expect(store.feedDigest('feverup')).toBe(before.digest);
    expect(store.sourcePosition()).toEqual({ datasetId: 'd', appliedSequence: 9 });
    expect(store.verifyDigest().feeds).toEqual([]);
  });

  it('of several feeds: unattributed until each feed delivers its events again, content unchanged', async () => {
    store.applyFeed('a', feedOf('a', 3), commit(1));
    store.applyFeed('b', feedOf('b', 2), commit(2));
    const before = { head: store.head(), digest: store.digest(), a: store.feedDigest('a') };
    await asLayout4();
    store = openStoreWriter({ path: dir });
    expect(store.digest()).toBe(before.digest);
    expect(store.feedDigest('a')).toBe(EMPTY_DIGEST);
    expect(store.feedDigest('')).toBe(before.digest);
    expect(store.applyFeed('a', feedOf('a', 3), commit(3))).toMatchObject({ unchanged: 3 });
    expect(store.head()).toEqual(before.head);
    expect(store.feedDigest('a')).toBe(before.a);
    expect([...store.feedRecords('a')]).toHaveLength(3);
    expect(store.digest()).toBe(before.digest);
    expect(store.verifyDigest().feeds).toEqual([]);
  });
});

describe('a store of layout 3 (one feed, before FEEDS)', () => {
  /** Rewrites the store in `dir` to what layout 3 wrote: one `state` record, no feed records. */
  async function asLayout3(): Promise<void> {
    await asLayout4((meta) => {
      const record = meta.get('feed/feverup') as { state: unknown };
      meta.put('state', record.state);
      meta.remove('feed/feverup');
      meta.remove('feeds');
      meta.put('layout', 3);
    });
  }

  it('is read meanwhile, and migrated: its state becomes the record of the feed the ingestor names, ids and content unchanged', async () => {
    store.applyFeed('feverup', feedOf('feverup', 4), commit(7));
    const before = {
      head: store.head(),
      digest: store.digest(),
      ids: [...store.records()].map((r) => r.id),
    };
    await asLayout3();

    const reader = openStoreReader({ path: dir });
    expect(reader.feeds().map((f) => [f.id, f.state.lastSuccessAt])).toEqual([['default', 7]]);
    await reader.close();

    store = openStoreWriter({ path: dir, legacyFeed: 'feverup' });
    expect(store.feeds()).toMatchObject([
      {
        id: 'feverup',
        events: 4,
        runs: [],
        state: { lastSuccessAt: 7, lastCounts: { inserted: 4 } },
      },
    ]);
    expect(store.head()).toEqual(before.head);
    expect(store.digest()).toBe(before.digest);
    expect(store.feedDigest('feverup')).toBe(before.digest);
    expect([...store.records()].map((r) => r.id)).toEqual(before.ids);
    // The next poll of the same feed finds every event unchanged: the same ids as before.
    expect(store.applyFeed('feverup', feedOf('feverup', 4), commit(8))).toMatchObject({
      unchanged: 4,
    });
    const after = openStoreReader({ path: dir });
    expect(after.feeds().map((f) => f.id)).toEqual(['feverup']);
    await after.close();
  });
});
