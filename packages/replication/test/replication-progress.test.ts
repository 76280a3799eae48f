import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsMsg } from '@nats-io/jetstream';
import { type EventRecord, eventIdFor } from '@tessera/core';
import { openStoreWriter, type StoreWriter } from '@tessera/store';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBatchApplier, type StreamMessage } from '../src/batch-applier.js';
import { commitSubject, encodeCommit, encodeRecords, recordsSubject } from '../src/feed-message.js';
import { trackProgress } from '../src/replication-progress.js';
import type { ReplicationStatus } from '../src/replication-status.js';

const at = Date.parse('2026-01-01T00:00:00Z');
const validators = { urlDigest: null, etag: null, lastModified: null, hash: 'h' };
const record = (n: number): EventRecord => {
  const id = eventIdFor('test', '1', String(n));
  const startsAt = at + n * 3_600_000;
  return { id, startsAt, endsAt: startsAt + 60_000, summary: JSON.stringify({ id }) };
};

let dir: string;
let store: StoreWriter;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-progress-'));
  store = openStoreWriter({ path: dir });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A real applier and progress over one feed's batch (records, then commit: sequences 1 and 2). */
async function readBatch(pendingClaimed: (seq: number) => number) {
  const lines: string[] = [];
  const log = pino(
    { level: 'info' },
    { write: (line: string) => lines.push(JSON.parse(line).msg as string) },
  );
  const applier = createBatchApplier({ store, datasetId: 'd', legacyFeed: 'legacy', log });
  const status: ReplicationStatus = {
    nodeId: 'n',
    role: 'follower',
    leading: [],
    leadingUntil: {},
    writer: null,
    connected: true,
    appliedSequence: 0,
    latestSequence: 0,
    behindSince: null,
    diverged: null,
    configDiffers: [],
    updatedAt: at,
  };
  const progress = trackProgress(status, applier, log, () => {}, {
    verified() {},
    consumed() {},
  });
  const messages: StreamMessage[] = [
    { seq: 1, subject: recordsSubject('test'), ...encodeRecords('b', 'feed', 0, [record(1)]) },
    {
      seq: 2,
      subject: commitSubject('test'),
      ...encodeCommit('b', 'feed', 0, {
        parts: 1,
        records: 1,
        outcome: { ok: true, at, validators },
      }),
    },
  ];
  for (const message of messages) {
    const result = await applier.apply(message);
    // What the consumer hands over: the stream sequence and how many it said were still pending.
    const delivered = {
      seq: message.seq,
      data: message.data,
      info: { pending: pendingClaimed(message.seq) },
      time: new Date(at),
    } as unknown as JsMsg;
    progress.message(delivered, result);
  }
  return { status, progress, lines };
}

describe('replication progress', () => {
  it("a node that read to the stream's end is caught up, though a message's pending promised more (history purged after its delivery)", async () => {
    // The first message said 50 more were pending; a checkpoint's purge then removed them.
    const { status, progress, lines } = await readBatch((seq) => (seq === 1 ? 50 : 0));
    expect(status.latestSequence).toBe(51);
    expect(status.behindSince).not.toBeNull();
    progress.streamEnds(2);
    expect(status).toMatchObject({ latestSequence: 2, appliedSequence: 2, behindSince: null });
    expect(lines).toContain('caught up with the cluster');
  });

  it('a stream that ends past what this node read makes it behind, since then', async () => {
    const { status, progress, lines } = await readBatch(() => 0);
    expect(status).toMatchObject({ latestSequence: 2, behindSince: null });
    progress.streamEnds(9);
    expect(status.latestSequence).toBe(9);
    expect(status.behindSince).not.toBeNull();
    expect(lines).toContain('caught up with the cluster');
  });
});
