import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EventRecord, eventIdFor, type QueryWindow } from '@tessera/core';
import { createRandom } from '@tessera/simulator';
import { open } from 'lmdb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DigestSum, EMPTY_DIGEST, recordDigest } from '../src/layout.js';
import { StoreError } from '../src/store-error.js';
import { openStoreWriter, type StoreWriter } from '../src/store-writer.js';

/** Seeds the generated stage case; printed in its name, STAGE_SEED reruns one. */
const STAGE_SEED = Number(process.env.STAGE_SEED ?? 1);

const H = 3_600_000;
const T0 = Date.parse('2021-06-01T00:00:00Z');

function record(
  eventId: string,
  startH: number,
  endH: number,
  title = `event ${eventId}`,
): EventRecord {
  const id = eventIdFor('test', '1', eventId);
  return {
    id,
    startsAt: T0 + startH * H,
    endsAt: T0 + endH * H,
    summary: JSON.stringify({ id, title }),
  };
}

const commit = (at = 1) => ({
  at,
  validators: { urlDigest: null, etag: null, lastModified: null, hash: `h${at}` },
});
const all: QueryWindow = { startsAt: null, endsAt: null };

function titles(store: StoreWriter, window: QueryWindow = all): string[] {
  return [...store.scan(window)].map((b) => JSON.parse(b.toString('utf8')).title);
}

let dir: string;
let store: StoreWriter;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-store-'));
  store = openStoreWriter({ path: dir });
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('openStoreWriter', () => {
  it('starts empty at version 0 with no freshness recorded', () => {
    expect(store.count()).toBe(0);
    expect(store.head().version).toBe(0);
    expect(store.state('test')).toMatchObject({ lastSuccessAt: null, consecutiveFailures: 0 });
    expect(titles(store)).toEqual([]);
  });

  it('yields events in start order whatever the write order, ties broken by id', () => {
    const tieA = record('a', 5, 6);
    const tieB = record('b', 5, 7);
    store.applyFeed('test', [record('late', 10, 11), tieB, record('early', 1, 2), tieA], commit());
    const expectedTies = [tieA, tieB]
      .sort((x, y) => (x.id < y.id ? -1 : 1))
      .map((r) => JSON.parse(r.summary).title);
    expect(titles(store)).toEqual(['event early', ...expectedTies, 'event late']);
  });

  it('treats both bounds as inclusive: start >= starts_at and end <= ends_at', () => {
    store.applyFeed(
      'test',
      [record('1', 1, 2), record('2', 2, 3), record('3', 3, 4), record('4', 3, 5)],
      commit(),
    );
    const w = (s: number | null, e: number | null): QueryWindow => ({
      startsAt: s === null ? null : T0 + s * H,
      endsAt: e === null ? null : T0 + e * H,
    });
    expect(titles(store, w(2, 4))).toEqual(['event 2', 'event 3']);
    expect(titles(store, w(2, null))).toEqual(['event 2', 'event 3', 'event 4']);
    expect(titles(store, w(null, 3))).toEqual(['event 1', 'event 2']);
    expect(titles(store, w(3, 3))).toEqual([]);
    expect(titles(store, { startsAt: T0 + 2 * H + 1, endsAt: null })).toEqual([
      'event 3',
      'event 4',
    ]);
    expect(titles(store, { startsAt: null, endsAt: T0 + 3 * H - 1 })).toEqual(['event 1']);
  });

  it('moves an event whose start changed instead of duplicating it', () => {
    store.applyFeed('test', [record('x', 1, 2, 'before')], commit(1));
    const counts = store.applyFeed('test', [record('x', 8, 9, 'after')], commit(2));
    expect(counts).toEqual({ inserted: 0, updated: 0, moved: 1, unchanged: 0 });
    expect(store.count()).toBe(1);
    expect(titles(store)).toEqual(['after']);
    expect(titles(store, { startsAt: T0, endsAt: T0 + 3 * H })).toEqual([]);
  });

  it('is idempotent: re-applying the same feed changes nothing and keeps the version', () => {
    const feed = [record('1', 1, 2), record('2', 2, 3)];
    expect(store.applyFeed('test', feed, commit(1))).toEqual({
      inserted: 2,
      updated: 0,
      moved: 0,
      unchanged: 0,
    });
    expect(store.head().version).toBe(1);
    expect(store.applyFeed('test', feed, commit(2))).toEqual({
      inserted: 0,
      updated: 0,
      moved: 0,
      unchanged: 2,
    });
    expect(store.head().version).toBe(1);
    expect(store.state('test').lastSuccessAt).toBe(2);
    expect(store.state('test').lastChangeAt).toBe(1);
    expect(store.inspect(feed[0]!).change).toBe('unchanged');
  });

  it('updates changed values in place and bumps the version', () => {
    store.applyFeed('test', [record('1', 1, 2, 'old')], commit(1));
    expect(store.inspect(record('1', 1, 2, 'new')).change).toBe('updated');
    expect(store.applyFeed('test', [record('1', 1, 2, 'new')], commit(2)).updated).toBe(1);
    expect(titles(store)).toEqual(['new']);
    expect(store.head().version).toBe(2);
  });

  it('never deletes: events missing from a later feed stay', () => {
    store.applyFeed('test', [record('1', 1, 2), record('2', 2, 3)], commit(1));
    store.applyFeed('test', [record('2', 2, 3)], commit(2));
    expect(titles(store)).toEqual(['event 1', 'event 2']);
  });

  it('leaves the store unchanged when a write aborts midway', () => {
    store.applyFeed('test', [record('1', 1, 2, 'kept')], commit(1));
    const before = {
      version: store.head().version,
      state: store.state('test'),
      titles: titles(store),
    };
    function* failing(): Generator<EventRecord> {
      yield record('1', 1, 2, 'overwritten');
      yield record('2', 2, 3);
      throw new Error('document fault after two records');
    }
    expect(() => store.applyFeed('test', failing(), commit(2))).toThrow(StoreError);
    expect({
      version: store.head().version,
      state: store.state('test'),
      titles: titles(store),
    }).toEqual(before);
    expect(store.count()).toBe(1);
  });

  it('refuses a malformed record and rolls back the whole feed', () => {
    const bad = { ...record('2', 5, 6), startsAt: 1.5 };
    expect(() => store.applyFeed('test', [record('1', 1, 2), bad], commit(1))).toThrow(/malformed/);
    expect(store.count()).toBe(0);
  });

  it('records poll outcomes without touching events or the version', () => {
    store.applyFeed('test', [record('1', 1, 2)], commit(1));
    store.recordPoll('test', { ok: false, at: 5, code: 'provider_unavailable', message: '503' });
    store.recordPoll('test', { ok: false, at: 6, code: 'provider_timeout', message: 'slow' });
    expect(store.state('test')).toMatchObject({
      lastAttemptAt: 6,
      lastSuccessAt: 1,
      lastErrorCode: 'provider_timeout',
      consecutiveFailures: 2,
    });
    store.recordPoll('test', { ok: true, at: 7 });
    expect(store.state('test')).toMatchObject({
      lastSuccessAt: 7,
      consecutiveFailures: 0,
      lastErrorCode: null,
    });
    expect(store.state('test').validators.hash).toBe('h1');
    expect(store.head().version).toBe(1);
  });

  it('keeps everything across a close and reopen', async () => {
    store.applyFeed('test', [record('1', 1, 2), record('2', 2, 3)], commit(1));
    await store.close();
    store = openStoreWriter({ path: dir });
    expect(titles(store)).toEqual(['event 1', 'event 2']);
    expect(store.head().version).toBe(1);
    expect(store.state('test').validators.hash).toBe('h1');
  });

  it('serves values that stay valid while the scan goes on', () => {
    const many = Array.from({ length: 500 }, (_, i) => record(String(i), i, i + 1));
    store.applyFeed('test', many, commit());
    const chunks = [...store.scan(all)];
    expect(chunks).toHaveLength(500);
    expect(JSON.parse(chunks[0]!.toString()).title).toBe('event 0');
    expect(JSON.parse(chunks[499]!.toString()).title).toBe('event 499');
  });

  describe('stages', () => {
    it('hold records until applied, the last occurrence of an id winning, nothing visible before', async () => {
      store.applyFeed('test', [record('1', 1, 2, 'stored')], commit(1));
      const stage = store.openStage('feed');
      stage.add([record('1', 1, 2, 'changed'), record('2', 2, 3)]);
      stage.add([record('1', 1, 2, 'last')]);
      expect(stage.size()).toBe(2);
      // In the order last staged: id 1's last value came after id 2.
      expect([...stage.records()].map((r) => JSON.parse(r.summary).title)).toEqual([
        'event 2',
        'last',
      ]);
      expect(titles(store)).toEqual(['stored']);
      expect(store.applyFeed('test', stage.records(), commit(2))).toEqual({
        inserted: 1,
        updated: 1,
        moved: 0,
        unchanged: 0,
      });
      expect(titles(store)).toEqual(['last', 'event 2']);
      await stage.clear();
      expect(stage.size()).toBe(0);
      expect([...stage.records()]).toEqual([]);
      stage.add([record('3', 3, 4)]);
      expect(stage.size()).toBe(1);
    });

    it(`give back what a Map of the same adds holds, in its order and in key order (STAGE_SEED=${STAGE_SEED})`, async () => {
      const random = createRandom(STAGE_SEED);
      const stage = store.openStage('generated');
      const reference = new Map<string, EventRecord>();
      for (let batch = 0; batch < 40; batch++) {
        const records = Array.from({ length: Math.floor(random() * 60) }, (_, i) => {
          // Few distinct ids, so that most batches stage some id again, often twice in one batch.
          const id = String(Math.floor(random() * 300));
          // Sizes up to 2 KB, and now and then one past the 1 MiB the stage reads back at a time:
          // frames fall across its reads, and a longer one grows them.
          const pad = random() < 0.005 ? 1.5 * 1024 ** 2 : Math.floor(random() * 2_000);
          const title = `${id} in batch ${batch} ${'·'.repeat(pad)}`;
          // Starts shared by several ids, so that their ids order them.
          const at = Math.floor((batch * 100 + i) / 7);
          return record(id, at, at + 1, title);
        });
        stage.add(records);
        for (const r of records) {
          reference.delete(r.id);
          reference.set(r.id, r);
        }
      }
      expect(stage.size()).toBe(reference.size);
      expect([...stage.records()]).toEqual([...reference.values()]);
      // In `events` key order too, through the stage's bucket sort (frames past a bucket's
      // 1 MiB among them), as often as asked.
      const byKey = [...reference.values()].sort(
        (a, b) => a.startsAt - b.startsAt || Buffer.compare(Buffer.from(a.id), Buffer.from(b.id)),
      );
      const inKeyOrder = stage.records().inKeyOrder();
      expect([...inKeyOrder]).toEqual(byKey);
      expect([...inKeyOrder]).toEqual(byKey);
      await stage.clear();
    });

    it('start empty, whatever a stage of the same name held before the writer opened', async () => {
      store.openStage('feed').add([record('1', 1, 2)]);
      await store.close();
      store = openStoreWriter({ path: dir });
      expect(store.openStage('feed').size()).toBe(0);
    });

    it('are one per name while open; a closed one frees its name for a new, empty stage', async () => {
      const stage = store.openStage('feed');
      stage.add([record('1', 1, 2)]);
      expect(() => store.openStage('feed')).toThrow(/stage feed is open/);
      await stage.close();
      expect(store.openStage('feed').size()).toBe(0);
    });
  });

  describe('state digest', () => {
    const many = (title: string, prefix = '') =>
      Array.from({ length: 50 }, (_, i) =>
        record(`${prefix}${i}`, i % 7, (i % 7) + 1, `${title} ${i}`),
      );

    it('is the same for the same content whatever the order and history of the writes', async () => {
      expect(store.digest()).toBe(EMPTY_DIGEST);
      store.applyFeed('test', many('old'), commit(1));
      store.applyFeed('test', [...many('new')].reverse(), commit(2));
      store.applyFeed('test', [record('3', 30, 31, 'moved')], commit(3));
      const other = openStoreWriter({ path: mkdtempSync(join(tmpdir(), 'tessera-store-')) });
      try {
        const expected = many('new').map((r, i) => (i === 3 ? record('3', 30, 31, 'moved') : r));
        other.applyFeed('test', expected, commit(9));
        expect(store.digest()).toBe(other.digest());
        expect(store.verifyDigest()).toEqual({
          stored: store.digest(),
          actual: store.digest(),
          feeds: [],
        });
      } finally {
        await other.close();
      }
    });

    it('returns to its value when a record changes and changes back', () => {
      store.applyFeed('test', many('a'), commit(1));
      const before = store.digest();
      store.applyFeed('test', [record('4', 9, 10, 'else')], commit(2));
      expect(store.digest()).not.toBe(before);
      store.applyFeed('test', [many('a')[4]!], commit(3));
      expect(store.digest()).toBe(before);
    });

    it('is recomputed and repaired when the store was altered behind the writer', async () => {
      store.applyFeed('test', many('a'), commit(1));
      const honest = store.digest();
      await store.close();
      const raw = open({ path: dir, noSubdir: false, maxDbs: 4 });
      const events = raw.openDB({ name: 'events', encoding: 'binary' });
      const [key] = [...events.getKeys({ limit: 1 })];
      await events.remove(key as never);
      await raw.close();
      store = openStoreWriter({ path: dir });
      expect(store.digest()).toBe(honest);
      const { stored, actual } = store.verifyDigest();
      expect(stored).toBe(honest);
      expect(actual).not.toBe(honest);
      expect(store.digest()).toBe(actual);
      expect(store.verifyDigest()).toEqual({ stored: actual, actual, feeds: [] });
    });

    it("is kept per feed: each feed's digest is the XOR of its own events, and they add up", () => {
      const a = many('a');
      const b = many('b', 'b');
      store.applyFeed('feed-a', a, commit(1));
      store.applyFeed('feed-b', b, commit(2));
      const sumOf = (records: EventRecord[]) =>
        records.reduce((sum, r) => sum.toggle(recordDigest(r)), new DigestSum()).value();
      expect(store.feedDigest('feed-a')).toBe(sumOf(a));
      expect(store.feedDigest('feed-b')).toBe(sumOf(b));
      expect(store.digest()).toBe(sumOf([...a, ...b]));
      expect(store.feedDigest('never')).toBe(EMPTY_DIGEST);
      expect([...store.feedRecords('feed-b')].sort((x, y) => x.id.localeCompare(y.id))).toEqual(
        [...b].sort((x, y) => x.id.localeCompare(y.id)),
      );
    });

    it('names the feed whose events were altered behind the writer, and repairs its digest', async () => {
      store.applyFeed('feed-a', many('a'), commit(1));
      store.applyFeed('feed-b', many('b', 'b'), commit(2));
      const honestA = store.feedDigest('feed-a');
      const victim = many('b', 'b')[3]!;
      await store.close();
      const raw = open({ path: dir, noSubdir: false, maxDbs: 4 });
      const events = raw.openDB({ name: 'events', encoding: 'binary' });
      await events.remove([victim.startsAt, victim.id] as never);
      await raw.close();
      store = openStoreWriter({ path: dir });
      expect(store.verifyDigest().feeds).toEqual(['feed-b']);
      expect(store.feedDigest('feed-a')).toBe(honestA);
      expect(store.verifyDigest().feeds).toEqual([]);
      // The entry of the deleted event went with the repair: emptying the feed leaves exactly a.
      store.emptyFeed('feed-b', { storeId: 'd', position: null });
      expect(store.digest()).toBe(honestA);
      expect(store.event(victim.id)).toBeUndefined();
    });

    it('a copied write that changed no event keeps the state and mark given, not a new version', () => {
      store.applyFeed('feed-a', many('a'), commit(1));
      const before = store.head();
      const state = { ...store.state('feed-a'), consecutiveFailures: 2 };
      const run = { ok: false as const, at: 5, code: 'provider_timeout', message: 'slow' };
      const counts = store.applyFeed('feed-a', [], {
        state,
        storeId: 'dataset',
        version: before.version + 7,
        position: { at: 3 },
        run,
      });
      expect(counts).toEqual({ inserted: 0, updated: 0, moved: 0, unchanged: 0 });
      expect(store.head()).toEqual({ storeId: 'dataset', version: before.version });
      expect(store.state('feed-a')).toEqual(state);
      expect(store.sourcePosition()).toEqual({ at: 3 });
      expect(
        store
          .feeds()
          .find((f) => f.id === 'feed-a')
          ?.runs.at(-1),
      ).toMatchObject({
        outcome: 'failed',
        code: 'provider_timeout',
      });
    });

    it("emptyFeed removes that feed's events only, and keeps the position given", () => {
      store.applyFeed('feed-a', many('a'), commit(1));
      const onlyA = store.digest();
      store.applyFeed('feed-b', many('b', 'b'), commit(2));
      store.emptyFeed('feed-b', { storeId: 'dataset', position: { at: 0 } });
      expect(store.count()).toBe(many('a').length);
      expect(store.digest()).toBe(onlyA);
      expect(store.feedDigest('feed-b')).toBe(EMPTY_DIGEST);
      expect(store.sourcePosition()).toEqual({ at: 0 });
      expect(store.head().storeId).toBe('dataset');
      expect(store.feeds().find((f) => f.id === 'feed-b')?.events).toBe(0);
    });
  });

  it('migrates a layout-2 store in place: same events, digests recomputed', async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    const records = [record('1', 1, 2), record('2', 2, 3)];
    const raw = open({ path: dir, noSubdir: false, maxDbs: 4 });
    const events = raw.openDB({ name: 'events', encoding: 'binary' });
    const ids = raw.openDB({ name: 'ids', encoding: 'msgpack' });
    const meta = raw.openDB({ name: 'meta', encoding: 'msgpack' });
    await raw.transaction(() => {
      meta.put('layout', 2);
      meta.put('head', { storeId: 'old', version: 4 });
      for (const r of records) {
        const value = Buffer.alloc(8 + Buffer.byteLength(r.summary));
        value.writeDoubleLE(r.endsAt, 0);
        value.write(r.summary, 8);
        events.put([r.startsAt, r.id], value);
        ids.put(r.id, [r.startsAt, 'value-only-digest-----']);
      }
    });
    await raw.close();
    store = openStoreWriter({ path: dir });
    expect(titles(store)).toEqual(['event 1', 'event 2']);
    expect(store.head()).toEqual({ storeId: 'old', version: 4 });
    expect(store.inspect(records[0]!).change).toBe('unchanged');
    const fresh = openStoreWriter({ path: mkdtempSync(join(tmpdir(), 'tessera-store-')) });
    try {
      fresh.applyFeed('test', records, commit(1));
      expect(store.digest()).toBe(fresh.digest());
    } finally {
      await fresh.close();
    }
  });
});
