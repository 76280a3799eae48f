import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EventRecord, eventIdFor } from '@tessera/core';
import { openStoreWriter, type StoreWriter } from '@tessera/store';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBatchApplier, type StreamMessage } from '../src/batch-applier.js';
import { type Encoded, encodeCommit, encodeRecords, encodeState } from '../src/feed-message.js';
import { ReplicationError } from '../src/replication-error.js';

const log = pino({ level: 'silent' });
const validators = { url: null, etag: null, lastModified: null, hash: 'h' };
const at = Date.parse('2026-01-01T00:00:00Z');

function record(n: number, title: string): EventRecord {
  const id = eventIdFor('test', '1', String(n));
  const startsAt = at + n * 3_600_000;
  return { id, startsAt, endsAt: startsAt + 60_000, summary: JSON.stringify({ id, title }) };
}

let dir: string;
let store: StoreWriter;
let seq = 0;
const message = (encoded: Encoded): StreamMessage => ({ seq: ++seq, ...encoded });
const titles = () =>
  [...store.scan({ startsAt: null, endsAt: null })].map((b) => JSON.parse(b.toString()).title);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-applier-'));
  store = openStoreWriter({ path: dir });
  seq = 0;
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the batch applier', () => {
  it('applies a batch at its commit, recording the sequence, the dataset and the cluster version', async () => {
    const applier = createBatchApplier({ store, datasetId: 'dataset-1', feed: 'test', log });
    await applier.apply(message(encodeRecords('b1', 'feed', 0, [record(1, 'one')])));
    await applier.apply(message(encodeRecords('b1', 'feed', 0, [record(2, 'two')])));
    // Taken in, not committed (other processes see nothing of it until the commit).
    expect(applier.consumed()).toBe(2);
    expect(applier.applied()).toBe(0);
    const counts = { inserted: 2, updated: 0, moved: 0, unchanged: 0 };
    await applier.apply(
      message(
        encodeCommit('b1', 'feed', 0, {
          parts: 2,
          records: 2,
          outcome: { ok: true, at, validators, counts },
        }),
      ),
    );
    expect(titles()).toEqual(['one', 'two']);
    expect(store.head()).toEqual({ storeId: 'dataset-1', version: 3 });
    expect(store.cluster()).toEqual({ datasetId: 'dataset-1', appliedSequence: 3 });
    expect(store.state('test')).toMatchObject({ lastSuccessAt: at, lastCounts: counts });
  });

  it('never applies a batch whose commit does not come: the next batch or state message abandons it', async () => {
    const applier = createBatchApplier({ store, datasetId: 'd', feed: 'test', log });
    await applier.apply(message(encodeRecords('dead', 'feed', 0, [record(1, 'half')])));
    await applier.apply(message(encodeRecords('next', 'feed', 0, [record(2, 'whole')])));
    // (Nothing here reads a range while a batch is open: lmdb-js does not return from a range
    // read made beside an open asynchronous write transaction in the same process.)
    await applier.apply(
      message(
        encodeCommit('next', 'feed', 0, {
          parts: 1,
          records: 1,
          outcome: { ok: true, at, validators },
        }),
      ),
    );
    expect(titles()).toEqual(['whole']);
    await applier.apply(message(encodeRecords('dead-too', 'feed', 0, [record(3, 'never')])));
    await applier.apply(
      message(encodeState({ ok: false, at, code: 'provider_status', message: '503' })),
    );
    expect(titles()).toEqual(['whole']);
    expect(store.state('test')).toMatchObject({
      lastErrorCode: 'provider_status',
      consecutiveFailures: 1,
    });
    expect(store.head().version).toBe(3);
    expect(applier.applied()).toBe(5);
  });

  it('skips a checkpoint of a point it has passed, and applies one it has not, with its version', async () => {
    const applier = createBatchApplier({ store, datasetId: 'd', feed: 'test', log });
    await applier.apply(message(encodeRecords('b', 'feed', 0, [record(1, 'one')])));
    await applier.apply(
      message(
        encodeCommit('b', 'feed', 0, {
          parts: 1,
          records: 1,
          outcome: { ok: true, at, validators },
        }),
      ),
    );
    const before = store.lastTransactionId();
    await applier.apply(message(encodeRecords('c', 'checkpoint', 2, [record(1, 'one')])));
    await applier.apply(
      message(
        encodeCommit('c', 'checkpoint', 2, {
          parts: 1,
          records: 1,
          version: 2,
          state: store.state('test'),
        }),
      ),
    );
    // Passed already: only the sequence moved, in one small write.
    expect(store.lastTransactionId()).toBe(before + 1);
    expect(store.head().version).toBe(2);

    // A fresh store reading the same checkpoint gets the same content under the same version.
    const otherDir = mkdtempSync(join(tmpdir(), 'tessera-applier-'));
    const other = openStoreWriter({ path: otherDir });
    try {
      const fresh = createBatchApplier({ store: other, datasetId: 'd', feed: 'test', log });
      await fresh.apply({ seq: 3, ...encodeRecords('c', 'checkpoint', 2, [record(1, 'one')]) });
      await fresh.apply({
        seq: 4,
        ...encodeCommit('c', 'checkpoint', 2, {
          parts: 1,
          records: 1,
          version: 2,
          state: store.state('test'),
        }),
      });
      expect(other.head()).toEqual(store.head());
      expect([...other.scan({ startsAt: null, endsAt: null })]).toEqual([
        ...store.scan({ startsAt: null, endsAt: null }),
      ]);
    } finally {
      await other.close();
      rmSync(otherDir, { recursive: true, force: true });
    }
  });

  it('refuses a commit without all its records rather than diverge', async () => {
    const applier = createBatchApplier({ store, datasetId: 'd', feed: 'test', log });
    await applier.apply(message(encodeRecords('b', 'feed', 0, [record(1, 'one')])));
    await expect(
      applier.apply(
        message(
          encodeCommit('b', 'feed', 0, {
            parts: 2,
            records: 2,
            outcome: { ok: true, at, validators },
          }),
        ),
      ),
    ).rejects.toThrow(ReplicationError);
    await applier.reset();
    expect(titles()).toEqual([]);
  });

  it("checks the leader's digest after a commit and a state message: equal is verified, another is state_diverged", async () => {
    const applier = createBatchApplier({ store, datasetId: 'd', feed: 'test', log });
    const expected = openStoreWriter({ path: mkdtempSync(join(tmpdir(), 'tessera-applier-')) });
    try {
      expected.applyFeed('test', [record(1, 'one')], { at, validators });
      const digest = expected.digest() ?? '';
      await applier.apply(message(encodeRecords('b', 'feed', 0, [record(1, 'one')])));
      const commit = (batch: string, d: string) =>
        encodeCommit(batch, 'feed', 0, {
          parts: 1,
          records: 1,
          outcome: { ok: true, at, validators },
          digest: d,
        });
      expect(await applier.apply(message(commit('b', digest)))).toEqual({ verified: true });
      expect(await applier.apply(message(encodeState({ ok: true, at }, digest)))).toEqual({
        verified: true,
      });
      await applier.apply(message(encodeRecords('c', 'feed', 0, [record(2, 'two')])));
      // The leader says the batch leaves `digest` behind: this store holds one event more.
      const diverged = applier.apply(message(commit('c', digest)));
      await expect(diverged).rejects.toMatchObject({ code: 'state_diverged' });
      // Applied all the same, and read on after it.
      expect(applier.applied()).toBe(seq);
      expect(applier.consumed()).toBe(seq);
      await expect(
        applier.apply(message(encodeState({ ok: true, at }, digest))),
      ).rejects.toMatchObject({ code: 'state_diverged' });
    } finally {
      await expected.close();
    }
  });
});
