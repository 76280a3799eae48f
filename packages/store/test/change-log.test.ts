import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type EventRecord, eventIdFor } from '@tessera/core';
import { createRandom } from '@tessera/simulator';
import { startNode } from '@tessera/testkit';
import { open } from 'lmdb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type ChangeRetention, ChangeRetentionSchema } from '../src/change-log.js';
import { type ChangePosition, endOfVersion } from '../src/layout.js';
import { openStoreReader } from '../src/store-reader.js';
import { openStoreWriter, type StoreWriter } from '../src/store-writer.js';
import { lastTransactionId } from '../src/testing.js';

/** Seeds the generated follow case; printed in its name, CHANGES_SEED reruns one. */
const CHANGES_SEED = Number(process.env.CHANGES_SEED ?? 7);

const H = 3_600_000;
const T0 = Date.parse('2021-06-01T00:00:00Z');

function record(eventId: string, startH: number, title = `event ${eventId}`): EventRecord {
  const id = eventIdFor('test', '1', eventId);
  return {
    id,
    startsAt: T0 + startH * H,
    endsAt: T0 + (startH + 2) * H,
    summary: JSON.stringify({ id, title }),
  };
}

const commit = (at = 1) => ({
  at,
  validators: { urlDigest: null, etag: null, lastModified: null, hash: `h${at}` },
});

let dir: string;
let store: StoreWriter;

function openWith(retention?: ChangeRetention): StoreWriter {
  return openStoreWriter({
    path: dir,
    ...(retention === undefined ? {} : { changeRetention: retention }),
  });
}

/** A write copied from a source (a cluster's stream) at `version`. */
const copied = (version: number) => ({
  state: store.state('a'),
  storeId: 'dataset',
  version,
  position: { at: version },
});

/** Every change after `from`, read in pages of `page`: what a consumer following the log sees. */
function follow(view: Pick<StoreWriter, 'changes'>, from: ChangePosition, page = 3) {
  const seen: Array<{ position: ChangePosition; feed: string; summary: string }> = [];
  let at = from;
  for (;;) {
    const read = view.changes(at, page);
    expect(read.expired).toBe(false);
    if (read.changes.length === 0) return { seen, at };
    seen.push(...read.changes);
    at = read.changes.at(-1)!.position;
  }
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-changes-'));
  store = openWith();
});

afterEach(async () => {
  vi.useRealTimers();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the change log', () => {
  it('records each insert, update and move of a write under its version, and nothing unchanged', () => {
    store.applyFeed('a', [record('1', 1), record('2', 2)], commit(1));
    store.applyFeed('a', [record('1', 1), record('2', 5), record('3', 3, 'new')], commit(2));
    store.applyFeed('a', [record('1', 1, 'renamed')], commit(3));
    store.applyFeed('a', [record('1', 1, 'renamed')], commit(4));

    const { seen } = follow(store, endOfVersion(0));
    expect(seen.map((c) => c.position)).toEqual([
      [1, 0],
      [1, 1],
      [2, 0],
      [2, 1],
      [3, 0],
    ]);
    expect(seen.map((c) => JSON.parse(c.summary).title)).toEqual([
      'event 1',
      'event 2',
      'event 2',
      'new',
      'renamed',
    ]);
    expect(new Set(seen.map((c) => c.feed))).toEqual(new Set(['a']));
    // What a change carries is what /events/{id} serves after it.
    const last = seen.at(-1)!;
    expect(store.event(JSON.parse(last.summary).id)?.summary.toString('utf8')).toBe(last.summary);
  });

  it(`rebuilds the store's content from any snapshot plus the changes after it (seed ${CHANGES_SEED})`, () => {
    const random = createRandom(CHANGES_SEED);
    const model = new Map<string, string>();
    const snapshots: Array<{ at: ChangePosition; content: Map<string, string> }> = [];
    for (let round = 1; round <= 40; round++) {
      const feed = random() < 0.5 ? 'a' : 'b';
      const records: EventRecord[] = [];
      for (let i = 0; i < 6; i++) {
        const n = Math.floor(random() * 20);
        const r = record(`${feed}${n}`, Math.floor(random() * 4), `t${Math.floor(random() * 3)}`);
        records.push(r);
      }
      const byId = new Map(records.map((r) => [r.id, r]));
      store.applyFeed(feed, byId.values(), commit(round));
      for (const r of byId.values()) model.set(r.id, r.summary);
      snapshots.push({ at: endOfVersion(store.head().version), content: new Map(model) });
    }
    for (const { at, content } of snapshots) {
      const rebuilt = new Map(content);
      for (const change of follow(store, at, 4).seen) {
        rebuilt.set(JSON.parse(change.summary).id, change.summary);
      }
      expect(rebuilt).toEqual(model);
    }
  });

  it('keeps the last N changes: an older position is expired, one at the horizon is not', async () => {
    await store.close();
    store = openWith({ changes: 3 });
    store.applyFeed('a', [record('1', 1), record('2', 2)], commit(1));
    store.applyFeed('a', [record('3', 3), record('4', 4)], commit(2));
    expect(store.changes(endOfVersion(0), 10).expired).toBe(true);
    // [1, 0] was compacted: a consumer that saw it resumes from it and misses nothing.
    expect(store.changes([1, 0], 10)).toMatchObject({ expired: false });
    expect(store.changes([1, 0], 10).changes.map((c) => c.position)).toEqual([
      [1, 1],
      [2, 0],
      [2, 1],
    ]);
  });

  it('keeps the changes younger than a duration', async () => {
    await store.close();
    store = openWith({ ms: 60_000 });
    vi.useFakeTimers({ now: 1_000_000, toFake: ['Date'] });
    store.applyFeed('a', [record('1', 1)], commit(1));
    vi.setSystemTime(1_030_000);
    store.applyFeed('a', [record('2', 2)], commit(2));
    vi.setSystemTime(1_070_000);
    store.applyFeed('a', [record('3', 3)], commit(3));
    expect(store.changes(endOfVersion(0), 10).expired).toBe(true);
    expect(store.changes(endOfVersion(1), 10).changes.map((c) => c.position)).toEqual([
      [2, 0],
      [3, 0],
    ]);
  });

  it('records a write copied from a source at its version, and nothing for a replay behind the log', () => {
    store.applyFeed('a', [record('1', 1)], copied(10));
    store.applyFeed('a', [record('2', 2)], copied(12));
    expect(follow(store, endOfVersion(0)).seen.map((c) => c.position)).toEqual([
      [10, 0],
      [12, 0],
    ]);
    // A re-sync empties the feed and replays older batches: those record nothing, and whoever
    // followed this node before the re-sync lists again.
    store.emptyFeed('a', { storeId: 'dataset', position: null });
    store.applyFeed('a', [record('1', 1)], copied(10));
    expect(store.changes([12, 0], 10).expired).toBe(true);
    expect(store.changes(endOfVersion(12), 10)).toEqual({ expired: false, changes: [] });
    store.applyFeed('a', [record('3', 3)], copied(14));
    expect(follow(store, endOfVersion(12)).seen.map((c) => c.position)).toEqual([[14, 0]]);
  });

  it('begins again where a writer without a log left the store, and a reader opened before sees it', async () => {
    store.applyFeed('a', [record('1', 1)], commit(1));
    await store.close();
    // What a writer of an older Tessera leaves: a write without a change, and no change log.
    const raw = open({ path: dir, noSubdir: false, maxDbs: 4 });
    const meta = raw.openDB<unknown, string>('meta', { encoding: 'msgpack' });
    const head = meta.get('head') as { storeId: string; version: number };
    await meta.put('head', { ...head, version: 2 });
    await raw.openDB('changes', { encoding: 'msgpack' }).drop();
    await meta.remove('changes');
    await raw.close();

    // A reader that opened the store before any writer made the log reads it once it exists.
    const reader = openStoreReader({ path: dir });
    try {
      expect(reader.changes(endOfVersion(2), 10)).toEqual({ expired: false, changes: [] });
      const writer = startNode(fileURLToPath(new URL('processes/apply-one.mjs', import.meta.url)), [
        dir,
        record('x', 1).id,
      ]);
      expect(await writer.exited).toBe(0);
      expect(reader.changes(endOfVersion(1), 10).expired).toBe(true);
      const read = reader.changes(endOfVersion(2), 10);
      expect(read.changes.map((c) => [c.position, JSON.parse(c.summary).id])).toEqual([
        [[3, 0], record('x', 1).id],
      ]);
    } finally {
      await reader.close();
    }
    store = openWith();
  });
});

/** A summary the size of a real one (~300 bytes), so that a large write fills chunks as one does. */
function sized(eventId: string, startH: number, title = `event ${eventId}`): EventRecord {
  return record(eventId, startH, `${title} ${'·'.repeat(280)}`);
}

/** Stages the records in a fresh stage of the writer's: a large write of them is written ahead. */
function staged(writer: StoreWriter, records: EventRecord[]) {
  const stage = writer.openStage(`stage-${Math.random()}`);
  stage.add(records);
  return stage;
}

/** A record no write accepts (its start is not whole seconds), starting after every other. */
const malformed = (): EventRecord => ({ ...record('bad', 1_000_000), startsAt: T0 + 1e12 + 1 });

describe('changes written ahead of a large write from a stage', () => {
  /** 20,000 records (~6 MB of summaries), seeded: every one new, then 80 % and 30 % of them moved and renamed. */
  function generation(random: () => number, round: number): EventRecord[] {
    return Array.from({ length: 20_000 }, (_, i) =>
      random() < [0, 0.8, 0.3][round]!
        ? sized(String(i), Math.floor(random() * 5_000), `round ${round}`)
        : sized(String(i), i % 5_000),
    );
  }

  it(`record the same log as the same writes made in one transaction each (seed ${CHANGES_SEED})`, async () => {
    const reference = openStoreWriter({
      path: mkdtempSync(join(tmpdir(), 'tessera-changes-ref-')),
    });
    try {
      const random = createRandom(CHANGES_SEED);
      for (const [round, records] of [0, 1, 2].map((r) => [r, generation(random, r)] as const)) {
        const stage = staged(store, records);
        const before = lastTransactionId(store);
        store.applyFeed('a', stage.records(), commit(round + 1));
        await stage.close();
        reference.applyFeed('a', records, commit(round + 1));
        // Written ahead: in transactions of their own before the write's.
        expect(lastTransactionId(store) - before).toBeGreaterThan(1);
      }
      const seen = follow(store, endOfVersion(0), 7_000).seen;
      expect(seen.length).toBeGreaterThan(20_000);
      expect(seen).toEqual(follow(reference, endOfVersion(0), 7_000).seen);
    } finally {
      await reference.close();
    }
  });

  it('are never read if the write fails, and give way to the next writes', async () => {
    store.applyFeed('a', [record('small', 1)], commit(1));
    // Two chunks' worth of changes, so that the retry below writes fewer ahead than were.
    const large = Array.from({ length: 30_000 }, (_, i) => sized(String(i), i % 5_000));
    const failing = staged(store, [...large, malformed()]);
    const before = lastTransactionId(store);
    expect(() => store.applyFeed('a', failing.records(), commit(2))).toThrow(/malformed/);
    await failing.close();
    // Entries were written ahead of the failed write (its own transaction never committed) …
    expect(lastTransactionId(store) - before).toBeGreaterThan(0);
    // … and a consumer at any position reads none of them.
    expect(follow(store, endOfVersion(0)).seen.map((c) => c.position)).toEqual([[1, 0]]);
    expect(store.changes([1, 0], 10)).toEqual({ expired: false, changes: [] });

    // The same version again, fewer records: past them, nothing of the failed write is left.
    const retry = staged(store, large.slice(0, 17_000));
    store.applyFeed('a', retry.records(), commit(2));
    await retry.close();
    store.applyFeed('a', [record('later', 2)], commit(3));
    const positions = follow(store, endOfVersion(0), 5_000).seen.map((c) => c.position);
    expect(positions).toHaveLength(1 + 17_000 + 1);
    expect(positions.at(-2)).toEqual([2, 16_999]);
    expect(positions.at(-1)).toEqual([3, 0]);
  });

  it('left by a failed copy of a source are never read after a later version commits', async () => {
    store.applyFeed('a', [record('small', 1)], copied(10));
    const large = Array.from({ length: 20_000 }, (_, i) => sized(String(i), i % 5_000));
    const failing = staged(store, [...large, malformed()]);
    expect(() => store.applyFeed('a', failing.records(), copied(11))).toThrow(/malformed/);
    await failing.close();
    store.applyFeed('a', [record('later', 2)], copied(13));
    expect(follow(store, endOfVersion(0)).seen.map((c) => c.position)).toEqual([
      [10, 0],
      [13, 0],
    ]);
  });
});

describe('a reader of the change log', () => {
  it('reads changes in the middle of an open scan without breaking its snapshot', async () => {
    store.applyFeed(
      'a',
      Array.from({ length: 3_000 }, (_, i) => record(`s${i}`, i % 500)),
      commit(1),
    );
    const reader = openStoreReader({ path: dir });
    try {
      const scan = reader.scan({ startsAt: null, endsAt: null });
      let read = 0;
      for (const _ of scan) {
        if (++read === 10) expect(reader.changes(endOfVersion(0), 5).changes).toHaveLength(5);
      }
      expect(read).toBe(3_000);
    } finally {
      await reader.close();
    }
  });
});

describe('ChangeRetentionSchema', () => {
  it.each([
    ['500000', { changes: 500_000 }],
    ['7d', { ms: 7 * 86_400_000 }],
    ['12h', { ms: 12 * 3_600_000 }],
    ['90m', { ms: 90 * 60_000 }],
    ['30s', { ms: 30_000 }],
  ])('reads %s', (text, retention) => {
    expect(ChangeRetentionSchema.parse(text)).toEqual(retention);
  });

  it.each(['0', '7 days', '-1', '1.5d', 'd', ''])('refuses %j', (text) => {
    expect(ChangeRetentionSchema.safeParse(text).success).toBe(false);
  });
});
