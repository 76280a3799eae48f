import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EventRecord, eventIdFor } from '@tessera/core';
import { openStoreWriter, type PollOutcome, type StoreWriter } from '@tessera/store';
import { lastTransactionId } from '@tessera/store/testing';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBatchApplier, type StreamMessage } from '../src/batch-applier.js';
import { readPosition } from '../src/cluster-position.js';
import {
  type BatchKind,
  type CommitBody,
  commitSubject,
  encodeCommit,
  encodeRecords,
  encodeState,
  LEGACY_SUBJECT,
  recordsSubject,
} from '../src/feed-message.js';

const log = pino({ level: 'silent' });
const validators = { urlDigest: null, etag: null, lastModified: null, hash: 'h' };
const at = Date.parse('2026-01-01T00:00:00Z');

function record(n: number, title: string, feed = 'test'): EventRecord {
  const id = eventIdFor(feed, '1', String(n));
  const startsAt = at + n * 3_600_000;
  return { id, startsAt, endsAt: startsAt + 60_000, summary: JSON.stringify({ id, title }) };
}

let dir: string;
let store: StoreWriter;
let seq = 0;
/** The stream as published so far, to read again. */
let stream: StreamMessage[] = [];
const push = (m: Omit<StreamMessage, 'seq'>): StreamMessage => {
  const full = { seq: ++seq, ...m };
  stream.push(full);
  return full;
};
const records = (
  batch: string,
  list: EventRecord[],
  feed = 'test',
  kind: BatchKind = 'feed',
  basedOn = 0,
) => push({ subject: recordsSubject(feed), ...encodeRecords(batch, kind, basedOn, list) });
const commit = (
  batch: string,
  body: Partial<CommitBody> & { parts: number },
  feed = 'test',
  kind: BatchKind = 'feed',
  basedOn = 0,
) =>
  push({
    subject: commitSubject(feed),
    ...encodeCommit(batch, kind, basedOn, {
      records: body.parts,
      ...(kind === 'feed' ? { outcome: { ok: true, at, validators } } : {}),
      ...body,
    }),
  });
const state = (outcome: PollOutcome, feed = 'test', digest?: string) =>
  push({ subject: commitSubject(feed), ...encodeState(outcome, digest) });
const titles = (s = store) =>
  [...s.scan({ startsAt: null, endsAt: null })].map((b) => JSON.parse(b.toString()).title);
const applierOf = (s: StoreWriter) =>
  createBatchApplier({ store: s, datasetId: 'd', legacyFeed: 'legacy', log });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-applier-'));
  store = openStoreWriter({ path: dir });
  seq = 0;
  stream = [];
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function withOtherStore(fn: (other: StoreWriter) => Promise<void>): Promise<void> {
  const otherDir = mkdtempSync(join(tmpdir(), 'tessera-applier-'));
  const other = openStoreWriter({ path: otherDir });
  try {
    await fn(other);
  } finally {
    await other.close();
    rmSync(otherDir, { recursive: true, force: true });
  }
}

describe('the batch applier', () => {
  it('applies a batch at its commit, recording the position, the dataset and the cluster version', async () => {
    const applier = applierOf(store);
    await applier.apply(records('b1', [record(1, 'one')]));
    await applier.apply(records('b1', [record(2, 'two')]));
    // Taken in, not committed (other processes see nothing of it until the commit).
    expect(applier.consumed()).toBe(2);
    expect(applier.applied()).toBe(0);
    const counts = { inserted: 2, updated: 0, moved: 0, unchanged: 0 };
    expect(
      await applier.apply(
        commit('b1', { parts: 2, outcome: { ok: true, at, validators, counts } }),
      ),
    ).toEqual({ feed: 'test', verified: false });
    expect(titles()).toEqual(['one', 'two']);
    expect(store.head()).toEqual({ storeId: 'd', version: 3 });
    expect(readPosition(store)).toEqual({ datasetId: 'd', appliedSequence: 3, resumeAt: 4 });
    expect(store.state('test')).toMatchObject({ lastSuccessAt: at, lastCounts: counts });
  });

  it('never applies a batch whose commit does not come: the next batch or state message of its feed abandons it', async () => {
    const applier = applierOf(store);
    await applier.apply(records('dead', [record(1, 'half')]));
    await applier.apply(records('next', [record(2, 'whole')]));
    // (Nothing here reads a range while a batch is open: lmdb-js does not return from a range
    // read made beside an open asynchronous write transaction in the same process.)
    await applier.apply(commit('next', { parts: 1 }));
    expect(titles()).toEqual(['whole']);
    await applier.apply(records('dead-too', [record(3, 'never')]));
    await applier.apply(state({ ok: false, at, code: 'provider_status', message: '503' }));
    expect(titles()).toEqual(['whole']);
    expect(store.state('test')).toMatchObject({
      lastErrorCode: 'provider_status',
      consecutiveFailures: 1,
    });
    expect(store.head().version).toBe(3);
    expect(applier.applied()).toBe(5);
  });

  it("applies interleaved batches of several feeds, each at its own commit, each feed's state its own", async () => {
    const applier = applierOf(store);
    await applier.apply(records('a1', [record(1, 'a one', 'a')], 'a'));
    await applier.apply(records('b1', [record(1, 'b one', 'b')], 'b'));
    await applier.apply(records('a1', [record(2, 'a two', 'a')], 'a'));
    await applier.apply(commit('b1', { parts: 1 }, 'b'));
    expect(titles()).toEqual(['b one']);
    // Feed a's batch is still open: reading would resume at its first message.
    expect(readPosition(store)).toMatchObject({ appliedSequence: 4, resumeAt: 1 });
    await applier.apply(state({ ok: false, at, code: 'provider_status', message: '503' }, 'b'));
    await applier.apply(commit('a1', { parts: 2 }, 'a'));
    expect(titles().sort()).toEqual(['a one', 'a two', 'b one']);
    expect(readPosition(store)).toEqual({ datasetId: 'd', appliedSequence: 6, resumeAt: 7 });
    expect(store.state('a').consecutiveFailures).toBe(0);
    expect(store.state('b').consecutiveFailures).toBe(1);
    // Each feed's runs are its leader's polls, as every node records them.
    const runs = Object.fromEntries(store.feeds().map((f) => [f.id, f.runs.map((r) => r.outcome)]));
    expect(runs).toEqual({ a: ['unchanged'], b: ['unchanged', 'failed'] });
    expect([...store.feedRecords('a')]).toHaveLength(2);
  });

  it('after a crash at any message, reading again from where the store resumes gives the same store, each commit applied once', async () => {
    // Two feeds whose batches overlap, then more of each.
    records('a1', [record(1, 'a one', 'a')], 'a');
    records('b1', [record(1, 'b one', 'b')], 'b');
    records('a1', [record(2, 'a two', 'a')], 'a');
    commit('b1', { parts: 1 }, 'b');
    records('b2', [record(1, 'b one again', 'b')], 'b');
    commit('a1', { parts: 2 }, 'a');
    records('a2', [record(2, 'a two again', 'a')], 'a');
    commit('b2', { parts: 1 }, 'b');
    commit('a2', { parts: 1 }, 'a');
    const whole = stream.slice();
    let reference: { titles: string[]; head: unknown; digest: unknown } | undefined;
    await withOtherStore(async (other) => {
      const applier = applierOf(other);
      for (const m of whole) await applier.apply(m);
      reference = { titles: titles(other), head: other.head(), digest: other.digest() };
    });
    // The uncrashed apply is itself held to the batches as written: each id's last committed value.
    expect([...reference!.titles].sort()).toEqual(['a one', 'a two again', 'b one again']);
    for (let crashAfter = 1; crashAfter < whole.length; crashAfter++) {
      const crashDir = mkdtempSync(join(tmpdir(), 'tessera-applier-'));
      let crashed = openStoreWriter({ path: crashDir });
      try {
        const first = applierOf(crashed);
        for (const m of whole.slice(0, crashAfter)) await first.apply(m);
        // A new process: the open batches are gone with the old one, its stages deleted.
        await crashed.close();
        crashed = openStoreWriter({ path: crashDir });
        const second = applierOf(crashed);
        for (const m of whole.slice(second.consumed())) await second.apply(m);
        expect({
          titles: titles(crashed),
          head: crashed.head(),
          digest: crashed.digest(),
        }).toEqual(reference);
      } finally {
        await crashed.close();
        rmSync(crashDir, { recursive: true, force: true });
      }
    }
  });

  it('skips a checkpoint of a point it has passed, and applies one it has not, with its version', async () => {
    const applier = applierOf(store);
    await applier.apply(records('b', [record(1, 'one')]));
    await applier.apply(commit('b', { parts: 1 }));
    const before = lastTransactionId(store);
    const body = {
      parts: 1,
      version: 2,
      state: store.state('test'),
      digest: store.feedDigest('test'),
    };
    const checkpoint = [
      records('c', [record(1, 'one')], 'test', 'checkpoint', 2),
      commit('c', body, 'test', 'checkpoint', 2),
    ];
    await applier.apply(checkpoint[0]!);
    // Passed already: only the position moved, in one small write; its digest is comparable.
    expect(await applier.apply(checkpoint[1]!)).toEqual({ feed: 'test', verified: true });
    expect(lastTransactionId(store)).toBe(before + 1);
    expect(store.head().version).toBe(2);

    // A fresh store reading the same checkpoint gets the same content under the same version.
    await withOtherStore(async (other) => {
      const fresh = applierOf(other);
      for (const m of checkpoint) await fresh.apply(m);
      expect(other.head()).toEqual(store.head());
      expect([...other.scan({ startsAt: null, endsAt: null })]).toEqual([
        ...store.scan({ startsAt: null, endsAt: null }),
      ]);
    });
  });

  it('skips a commit without all its records, as every node does, rather than diverge', async () => {
    const applier = applierOf(store);
    await applier.apply(records('b', [record(1, 'one')]));
    expect(await applier.apply(commit('b', { parts: 2 }))).toEqual({
      feed: 'test',
      verified: false,
    });
    expect(titles()).toEqual([]);
    expect(applier.applied()).toBe(2);
  });

  it("checks the feed's digest after a commit and a state message: equal is verified, another is state_diverged naming the feed", async () => {
    const applier = applierOf(store);
    await withOtherStore(async (expected) => {
      expected.applyFeed('test', [record(1, 'one')], { at, validators });
      const digest = expected.feedDigest('test');
      // Another feed's events never enter this feed's digest.
      await applier.apply(records('o', [record(9, 'other', 'other')], 'other'));
      await applier.apply(commit('o', { parts: 1 }, 'other'));
      await applier.apply(records('b', [record(1, 'one')]));
      expect(await applier.apply(commit('b', { parts: 1, digest }))).toEqual({
        feed: 'test',
        verified: true,
      });
      expect(await applier.apply(state({ ok: true, at }, 'test', digest))).toEqual({
        feed: 'test',
        verified: true,
      });
      await applier.apply(records('c', [record(2, 'two')]));
      // The leader says the batch leaves `digest` behind: this store holds one event more.
      const diverged = applier.apply(commit('c', { parts: 1, digest }));
      await expect(diverged).rejects.toMatchObject({ code: 'state_diverged', feed: 'test' });
      // Applied all the same, and read on after it.
      expect(applier.applied()).toBe(seq);
      expect(applier.consumed()).toBe(seq);
    });
  });

  it("re-syncs one feed: its events go, it is read again from the stream's start, the other feeds' messages skipped", async () => {
    const applier = applierOf(store);
    for (const m of [
      records('a1', [record(1, 'a one', 'a')], 'a'),
      records('b1', [record(1, 'b one', 'b')], 'b'),
      commit('a1', { parts: 1 }, 'a'),
      commit('b1', { parts: 1 }, 'b'),
      records('b2', [record(2, 'b two', 'b')], 'b'),
      commit('b2', { parts: 1 }, 'b'),
    ]) {
      await applier.apply(m);
    }
    const digestOfB = store.feedDigest('b');
    const before = { titles: titles(), head: store.head(), digest: store.digest() };
    await applier.resync('b');
    expect(titles()).toEqual(['a one']);
    expect(applier.consumed()).toBe(0);
    const beforeReplay = lastTransactionId(store);
    for (const m of stream) await applier.apply(m);
    expect({ titles: titles(), head: store.head(), digest: store.digest() }).toEqual(before);
    expect(store.feedDigest('b')).toBe(digestOfB);
    // Two writes for b's two commits; a's was skipped.
    expect(lastTransactionId(store)).toBe(beforeReplay + 2);
    expect(readPosition(store)).toEqual({ datasetId: 'd', appliedSequence: 6, resumeAt: 7 });
  });

  it("reads round 2's messages, which name no feed, as the legacy feed's", async () => {
    const applier = applierOf(store);
    await applier.apply(
      push({
        subject: LEGACY_SUBJECT,
        ...encodeRecords('r2', 'feed', 0, [record(1, 'old', 'legacy')]),
      }),
    );
    await applier.apply(
      push({
        subject: LEGACY_SUBJECT,
        ...encodeCommit('r2', 'feed', 0, {
          parts: 1,
          records: 1,
          outcome: { ok: true, at, validators },
        }),
      }),
    );
    expect(titles()).toEqual(['old']);
    expect(store.state('legacy').lastSuccessAt).toBe(at);
    expect([...store.feedRecords('legacy')]).toHaveLength(1);
  });
});
