import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type EventRecord, eventIdFor, isInWindow, type QueryWindow } from '@tessera/core';
import { createRandom } from '@tessera/simulator';
import { startNode } from '@tessera/testkit';
import { open } from 'lmdb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stagePath } from '../src/feed-stage.js';
import { encodeEventValue, eventKey } from '../src/layout.js';
import { openStoreReader } from '../src/store-reader.js';
import type { StoreView } from '../src/store-view.js';
import { lastTransactionId, openStoreWriter, type StoreWriter } from '../src/store-writer.js';

/** Seeds the generated writes and windows; printed in the test's name, BLOCKS_SEED reruns one. */
const SEED = Number(process.env.BLOCKS_SEED ?? 4);
const HOUR = 3_600_000;
const BASE = Date.parse('2024-01-01T00:00:00Z');
const commit = (at: number) => ({
  at,
  validators: { urlDigest: null, etag: null, lastModified: null, hash: `h${at}` },
});
const ALL: QueryWindow = { startsAt: null, endsAt: null };

/** The answer's events part for a window, from the records written and nothing of the store. */
function expected(model: Map<string, EventRecord & { feed: string }>, window: QueryWindow): string {
  return [...model.values()]
    .filter((r) => isInWindow(window, r.startsAt, r.endsAt))
    .sort((a, b) => a.startsAt - b.startsAt || Buffer.compare(Buffer.from(a.id), Buffer.from(b.id)))
    .map((r) => r.summary)
    .join(',');
}

function joinedRuns(view: StoreView, window: QueryWindow): { text: string; runs: number } {
  // A run's bytes are valid until the next step: read as a responder reads them, one by one.
  const texts: string[] = [];
  for (const run of view.runs(window)) texts.push(run.bytes.toString('utf8'));
  return { text: texts.join(','), runs: texts.length };
}

function randomWindow(random: () => number): QueryWindow {
  const from = BASE + Math.floor(random() * 24 * 70 - 24 * 5) * HOUR;
  const span = Math.floor(random() ** 2 * 24 * 30) * HOUR;
  return { startsAt: random() < 0.1 ? null : from, endsAt: random() < 0.1 ? null : from + span };
}

let dir: string;
let writer: StoreWriter;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-blocks-'));
  writer = openStoreWriter({ path: dir });
});
afterEach(async () => {
  await writer.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Seeded writes to two feeds: a bulk first ingest (every block built at once), then small writes
 * of new, changed and moved events (the blocks they fall in rebuilt), events sharing a start,
 * summaries past a block's size, and a feed emptied.
 */
function writeSeeded(random: () => number, model: Map<string, EventRecord & { feed: string }>) {
  const make = (feed: string, n: number, at: number): EventRecord => {
    const id = eventIdFor(feed, String(n % 7), String(n));
    // Few distinct hours, so that many events share a start and the id breaks the tie.
    const startsAt = BASE + Math.floor(random() * 24 * 60) * HOUR;
    const endsAt = startsAt + Math.floor(random() * 72) * HOUR;
    // Now and then a summary larger than a block's bytes, which then holds it alone.
    const size = random() < 0.01 ? 20_000 : Math.floor(random() * 200);
    const title = `${feed} ${n} at ${at} ${'ü'.repeat(size)}`;
    return { id, startsAt, endsAt, summary: JSON.stringify({ id, title }) };
  };
  const apply = (feed: string, records: EventRecord[], at: number) => {
    writer.applyFeed(feed, records, commit(at));
    for (const r of records) model.set(r.id, { ...r, feed });
  };
  apply(
    'a',
    Array.from({ length: 2_000 }, (_, n) => make('a', n, 0)),
    1,
  );
  apply(
    'b',
    Array.from({ length: 300 }, (_, n) => make('b', n, 0)),
    2,
  );
  return function* writes(): Generator<string> {
    for (let at = 3; at < 43; at++) {
      if (at === 30) {
        writer.emptyFeed('b', { storeId: writer.head().storeId, position: at });
        for (const [id, r] of model) if (r.feed === 'b') model.delete(id);
        yield `feed b emptied at ${at}`;
        continue;
      }
      const feed = random() < 0.8 ? 'a' : 'b';
      const count = 1 + Math.floor(random() * 40);
      const ns = Array.from({ length: count }, () => Math.floor(random() * 2_100));
      apply(
        feed,
        ns.map((n) => make(feed, n, at)),
        at,
      );
      yield `write ${at}: ${count} records of feed ${feed}`;
    }
  };
}

describe(`blocks against a plain model of the writes (BLOCKS_SEED=${SEED})`, () => {
  it('give every window exactly its events after each write, joined as an answer joins them, in runs', () => {
    const random = createRandom(SEED);
    const model = new Map<string, EventRecord & { feed: string }>();
    const writes = writeSeeded(random, model);
    for (const what of writes()) {
      for (let i = 0; i < 20; i++) {
        const window = randomWindow(random);
        const read = joinedRuns(writer, window);
        expect(read.text, `${what}, window ${JSON.stringify(window)}`).toBe(
          expected(model, window),
        );
      }
      const whole = joinedRuns(writer, ALL);
      expect(whole.text, `${what}, every event`).toBe(expected(model, ALL));
      // Read from blocks, not one event at a time: a block holds up to 64 events.
      expect(whole.runs, what).toBeLessThan(model.size / 8);
    }
  });

  it('are set aside while a writer that keeps none has written, and rebuilt by the next writer', async () => {
    const random = createRandom(SEED + 1);
    const model = new Map<string, EventRecord & { feed: string }>();
    const writes = writeSeeded(random, model);
    for (const _ of writes()) {
      // the small writes too, so that the blocks were last rebuilt in part
    }
    await writer.close();
    // What a writer of an older Tessera leaves: an event written, the digest moved, no blocks.
    const raw = open({ path: dir, noSubdir: false, maxDbs: 5 });
    const start = BASE + 5 * HOUR;
    const added = {
      id: eventIdFor('older', '1', '1'),
      startsAt: start,
      endsAt: start + HOUR,
      feed: 'a',
    };
    const summary = JSON.stringify({ id: added.id, title: 'written by an older writer' });
    raw.transactionSync(() => {
      raw
        .openDB('events', { encoding: 'binary' })
        .putSync(eventKey(added.startsAt, added.id), encodeEventValue(added.endsAt, summary));
      raw.openDB('meta', { encoding: 'msgpack' }).putSync('digest', 'moved-by-the-older-writer');
    });
    await raw.close();
    model.set(added.id, { ...added, summary });

    const reader = openStoreReader({ path: dir });
    try {
      const stale = joinedRuns(reader, ALL);
      expect(stale.text).toBe(expected(model, ALL));
      expect(stale.runs).toBe(model.size);
      expect(reader.blocksCurrent()).toBe(false);
      // The next writer, in a process of its own as the ingestor is, writes one more event.
      const id = eventIdFor('next', '1', '1');
      const next = startNode(fileURLToPath(new URL('processes/apply-one.mjs', import.meta.url)), [
        dir,
        id,
      ]);
      expect(await next.exited).toBe(0);
      const at = Date.parse('2021-06-01T00:00:00Z');
      model.set(id, {
        id,
        startsAt: at,
        endsAt: at + HOUR,
        summary: JSON.stringify({ id }),
        feed: 'a',
      });
      const rebuilt = joinedRuns(reader, ALL);
      expect(rebuilt.text).toBe(expected(model, ALL));
      expect(rebuilt.runs).toBeLessThan(model.size / 8);
      expect(reader.blocksCurrent()).toBe(true);
    } finally {
      await reader.close();
    }
    writer = openStoreWriter({ path: dir });
  });

  it('stay set aside when a write finds them stale, rather than stamped over events they miss', async () => {
    const model = new Map<string, EventRecord & { feed: string }>();
    const event = (n: number) => {
      const id = eventIdFor('a', '1', String(n));
      const startsAt = BASE + n * HOUR;
      return { id, startsAt, endsAt: startsAt + HOUR, summary: JSON.stringify({ id, n }) };
    };
    // A first ingest: every block built, and stamped.
    const first = Array.from({ length: 200 }, (_, n) => event(n));
    writer.applyFeed('a', first, commit(1));
    for (const r of first) model.set(r.id, { ...r, feed: 'a' });
    expect(writer.blocksCurrent()).toBe(true);
    // Meanwhile a writer that keeps no blocks adds an event (here a process of its own; in
    // production, the state a failed rebuild at open leaves is the same: blocks behind `events`).
    // In the first block's stretch, far from the one the next write touches.
    const older = event(10.5);
    const other = startNode(fileURLToPath(new URL('processes/older-writer.mjs', import.meta.url)), [
      dir,
      older.id,
      String(older.startsAt),
      older.summary,
    ]);
    expect(await other.exited).toBe(0);
    model.set(older.id, { ...older, feed: 'a' });
    expect(writer.blocksCurrent()).toBe(false);
    // A small write: repacking the blocks it touches must not stamp the others as current.
    const next = event(500);
    writer.applyFeed('a', [next], commit(2));
    model.set(next.id, { ...next, feed: 'a' });
    expect(joinedRuns(writer, ALL).text).toBe(expected(model, ALL));
    expect(writer.blocksCurrent()).toBe(false);
  });

  it('are rebuilt whole in the transaction of a write that touches many keys, step by step', async () => {
    const random = createRandom(SEED + 2);
    const model = new Map<string, EventRecord & { feed: string }>();
    const records = Array.from({ length: 40_000 }, (_, n): EventRecord => {
      const id = eventIdFor('bulk', String(n % 50), String(n));
      const startsAt = BASE + Math.floor(random() * 24 * 365) * HOUR;
      return { id, startsAt, endsAt: startsAt + HOUR, summary: JSON.stringify({ id, n }) };
    });
    const apply = (batch: EventRecord[], at: number) => {
      const before = lastTransactionId(writer);
      writer.applyFeed('bulk', batch, commit(at));
      for (const r of batch) model.set(r.id, { ...r, feed: 'bulk' });
      // One transaction: the events and their blocks, three steps of at most 16,384 events.
      expect(lastTransactionId(writer) - before).toBe(1);
      const whole = joinedRuns(writer, ALL);
      expect(whole.text).toBe(expected(model, ALL));
      expect(whole.runs).toBeLessThan(model.size / 32);
      for (let i = 0; i < 20; i++) {
        const window = randomWindow(random);
        const read = joinedRuns(writer, window).text;
        expect(read, `write ${at}, ${JSON.stringify(window)}`).toBe(expected(model, window));
      }
    };
    apply(records, 1);
    // Again with half of them moved: the old blocks are replaced across every step.
    apply(
      records.map((r, n) =>
        n % 2 === 0 ? { ...r, startsAt: r.startsAt + HOUR, endsAt: r.endsAt + HOUR } : r,
      ),
      2,
    );

    // Stale at the next open (as an older writer leaves them): rebuilt in steps of their own.
    const last = lastTransactionId(writer);
    await writer.close();
    const raw = open({ path: dir, noSubdir: false, maxDbs: 5 });
    raw.transactionSync(() =>
      raw.openDB('meta', { encoding: 'msgpack' }).putSync('blocks', 'stale'),
    );
    await raw.close();
    writer = openStoreWriter({ path: dir });
    // The stamp made stale; the old blocks removed, then three steps of at most 16,384 events.
    expect(lastTransactionId(writer) - last).toBe(1 + 1 + 3);
    const whole = joinedRuns(writer, ALL);
    expect(whole.text).toBe(expected(model, ALL));
    expect(whole.runs).toBeLessThan(model.size / 32);
  });
});

describe(`blocks of a large first ingest from a stage (BLOCKS_SEED=${SEED})`, () => {
  /** 20,000 events over few hours (ties broken by id), summaries of real size, a few past a block's bytes. */
  function bulk(random: () => number): EventRecord[] {
    return Array.from({ length: 20_000 }, (_, n): EventRecord => {
      const id = eventIdFor('bulk', String(n % 50), String(n));
      const startsAt = BASE + Math.floor(random() * 24 * 60) * HOUR;
      const size = random() < 0.005 ? 20_000 : 200 + Math.floor(random() * 200);
      const title = `${n} ${'ü'.repeat(size)}`;
      return { id, startsAt, endsAt: startsAt + HOUR, summary: JSON.stringify({ id, title }) };
    });
  }

  function check(model: Map<string, EventRecord & { feed: string }>, random: () => number) {
    const whole = joinedRuns(writer, ALL);
    expect(whole.text).toBe(expected(model, ALL));
    // Read from blocks, not one event at a time (these summaries fill a block's bytes at ~20 events).
    expect(whole.runs).toBeLessThan(model.size / 8);
    for (let i = 0; i < 20; i++) {
      const window = randomWindow(random);
      expect(joinedRuns(writer, window).text, JSON.stringify(window)).toBe(expected(model, window));
    }
  }

  it('are packed ahead of the write, and read as those of a write made in one transaction', async () => {
    const random = createRandom(SEED + 3);
    const records = bulk(random);
    const model = new Map(records.map((r) => [r.id, { ...r, feed: 'bulk' }]));
    const stage = writer.openStage('bulk');
    stage.add(records);
    const before = lastTransactionId(writer);
    writer.applyFeed('bulk', stage.records(), commit(1));
    await stage.close();
    expect(lastTransactionId(writer) - before).toBeGreaterThan(1);
    expect(writer.blocksCurrent()).toBe(true);
    check(model, random);

    // Small writes after it repack the blocks they touch, as after any write.
    const moved = records.slice(0, 30).map((r) => ({ ...r, startsAt: r.startsAt + HOUR }));
    writer.applyFeed('bulk', moved, commit(2));
    for (const r of moved) model.set(r.id, { ...r, feed: 'bulk' });
    check(model, random);
  });

  it('are never trusted when the write fails, and rebuilt for the next', async () => {
    const random = createRandom(SEED + 4);
    const records = bulk(random);
    const stage = writer.openStage('bulk');
    // Not whole seconds: refused by the write, after everything before it was packed ahead.
    stage.add([
      ...records,
      { ...records[0]!, id: eventIdFor('bulk', 'x', 'bad'), startsAt: BASE + 1e12 + 1 },
    ]);
    expect(() => writer.applyFeed('bulk', stage.records(), commit(1))).toThrow(/malformed/);
    // The key-order reading the failed write began is closed: its scratch file is gone.
    expect(readdirSync(stagePath(dir, 'bulk'))).not.toContain('key-order');
    await stage.clear();
    expect(writer.blocksCurrent()).toBe(false);
    expect(joinedRuns(writer, ALL).text).toBe('');

    stage.add(records.slice(0, 100));
    writer.applyFeed('bulk', stage.records(), commit(1));
    await stage.close();
    const model = new Map(records.slice(0, 100).map((r) => [r.id, { ...r, feed: 'bulk' }]));
    check(model, random);
    expect(writer.blocksCurrent()).toBe(true);
  });
});
