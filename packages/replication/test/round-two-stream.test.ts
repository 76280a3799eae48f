import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { type EventRecord, eventIdFor } from '@tessera/core';
import { DigestSum, openStoreWriter, recordDigest, type StoreWriter } from '@tessera/store';
import { type NatsCluster, startNatsCluster, waitUntil } from '@tessera/testkit';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeCommit,
  encodeRecords,
  FEED_STREAM,
  FEED_SUBJECTS,
  LEGACY_SUBJECT,
} from '../src/feed-message.js';
import { type Replication, startReplication } from '../src/replication.js';

const log = pino({ level: 'silent' });
const at = Date.parse('2026-01-01T00:00:00Z');
const validators = { urlDigest: null, etag: null, lastModified: null, hash: 'h' };

function record(n: number, title: string): EventRecord {
  const id = eventIdFor('feverup', '1', String(n));
  const startsAt = at + n * 3_600_000;
  return { id, startsAt, endsAt: startsAt + 60_000, summary: JSON.stringify({ id, title }) };
}

let cluster: NatsCluster;
let nc: NatsConnection;
let dir: string;
let store: StoreWriter;
let replication: Replication | undefined;

beforeAll(async () => {
  cluster = await startNatsCluster(3);
  nc = await connect({ servers: cluster.url.split(',') });
  dir = mkdtempSync(join(tmpdir(), 'tessera-round-two-'));
  store = openStoreWriter({ path: dir });
}, 30_000);
afterAll(async () => {
  await replication?.close();
  await store.close();
  await nc.close();
  await cluster.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("a cluster stream written by round 2's code (one feed, one subject)", () => {
  it("is read as the one feed's, takes the per-feed subjects, and that feed's leader goes on from it", async () => {
    // What round 2 left: its stream, one subject, one batch of the feed it ran.
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({
      name: FEED_STREAM,
      subjects: [LEGACY_SUBJECT],
      storage: StorageType.File,
      num_replicas: 3,
    });
    const js = jetstream(nc);
    const old = [record(1, 'one'), record(2, 'two')];
    const digest = old.reduce((sum, r) => sum.toggle(recordDigest(r)), new DigestSum()).value();
    const counts = { inserted: 2, updated: 0, moved: 0, unchanged: 0 };
    for (const message of [
      encodeRecords('r2', 'feed', 0, old),
      encodeCommit('r2', 'feed', 0, {
        parts: 1,
        records: 2,
        outcome: { ok: true, at, validators, counts },
        digest,
      }),
    ]) {
      await js.publish(LEGACY_SUBJECT, message.data, { headers: message.headers });
    }

    replication = await startReplication({
      servers: cluster.url.split(','),
      store,
      statusDir: dir,
      log,
      leaseMs: 1_000,
      nodeId: 'upgraded',
      feeds: ['feverup'],
      legacyFeed: 'feverup',
      storeFailureLimit: 3,
      configuration: 'round-two',
    });
    await waitUntil(() => store.count() === 2 || undefined, { what: "round 2's batch applied" });
    expect(store.feedDigest('feverup')).toBe(digest);
    expect(store.state('feverup').lastCounts).toEqual(counts);
    expect((await jsm.streams.info(FEED_STREAM)).config.subjects).toEqual(FEED_SUBJECTS);

    // The feed's leader compares with what round 2 left and publishes on the new subjects.
    const leading = new Promise<void>((resolve) =>
      replication!.onLeadership((feed, lead) => {
        if (feed === 'feverup' && lead) resolve();
      }),
    );
    await leading;
    await replication.caughtUp('feverup', AbortSignal.timeout(10_000));
    const applied = await replication.publishFeed(
      'feverup',
      [record(1, 'one'), record(2, 'two, changed'), record(3, 'three')],
      { at: at + 1, validators },
    );
    expect(applied).toEqual({ inserted: 1, updated: 1, moved: 0, unchanged: 1 });
    expect(store.count()).toBe(3);
    expect(
      [...store.feedRecords('feverup')].map((r) => JSON.parse(r.summary).title).sort(),
    ).toEqual(['one', 'three', 'two, changed']);
  });
});
