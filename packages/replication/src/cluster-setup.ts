import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  StorageType,
} from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { StoreWriter } from '@tessera/store';
import type { Logger } from 'pino';
import { readPosition } from './cluster-position.js';
import { FEED_STREAM, FEED_SUBJECTS } from './feed-message.js';
import { ReplicationError } from './replication-error.js';

const CLUSTER_BUCKET = 'tessera_cluster';
const DATASET_KEY = 'dataset';

/** What the cluster offers this node once it exists: the stream, the buckets, the dataset. */
export interface ClusterSetup {
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** A key-value bucket replicated as the stream is, made if missing. */
  bucket(name: string, ttl?: number): Promise<KV>;
  /** The cluster's dataset id, which this store holds or is about to. */
  datasetId: string;
}

/**
 * Makes sure the feed stream exists (with every feed's subjects) and reads the cluster's dataset
 * id, retrying while the servers elect their leaders; refuses a store that holds another
 * dataset, or data of its own.
 */
export async function setUpCluster(
  nc: NatsConnection,
  store: StoreWriter,
  signal: AbortSignal,
  log: Logger,
): Promise<ClusterSetup> {
  const js = jetstream(nc, { timeout: 5_000 });
  const jsm = await retry(() => jetstreamManager(nc, { timeout: 5_000 }), signal, log);
  const replicas = Math.min(3, Math.max(1, nc.info?.connect_urls?.length ?? 1));
  await retry(() => ensureStream(jsm, replicas), signal, log);
  const kvm = new Kvm(js);
  const bucket = (name: string, ttl?: number) =>
    retry(
      () =>
        kvm.create(name, {
          history: 1,
          replicas,
          storage: StorageType.File,
          ...(ttl === undefined ? {} : { ttl }),
        }),
      signal,
      log,
    );
  const clusterKv = await bucket(CLUSTER_BUCKET);
  const datasetId = await retry(() => datasetOf(clusterKv), signal, log);
  checkStore(store, datasetId);
  return { js, jsm, bucket, datasetId };
}

async function ensureStream(jsm: JetStreamManager, replicas: number): Promise<void> {
  let subjects: string[];
  try {
    subjects = (await jsm.streams.info(FEED_STREAM)).config.subjects ?? [];
  } catch {
    await jsm.streams.add({
      name: FEED_STREAM,
      subjects: FEED_SUBJECTS,
      storage: StorageType.File,
      num_replicas: replicas,
    });
    return;
  }
  // A stream made by a one-feed cluster took one subject: it takes every feed's from now on.
  if (!FEED_SUBJECTS.every((subject) => subjects.includes(subject))) {
    await jsm.streams.update(FEED_STREAM, { subjects: FEED_SUBJECTS });
  }
}

/** The cluster's dataset id: made once, by whichever node comes first. */
async function datasetOf(kv: KV): Promise<string> {
  try {
    await kv.create(DATASET_KEY, randomBytes(12).toString('base64url'));
  } catch {
    // Made already by another node.
  }
  const entry = await kv.get(DATASET_KEY);
  if (entry === null) throw new Error('the dataset id is missing');
  return entry.string();
}

/** A store joins the cluster empty, or as the dataset's own; never with data of its own. */
function checkStore(store: StoreWriter, datasetId: string): void {
  const position = readPosition(store);
  if (position !== null && position.datasetId !== datasetId) {
    throw new ReplicationError(
      'replication_refused',
      `DATA_DIR holds the cluster dataset ${position.datasetId}, but this cluster's is ${datasetId}: start this node on an empty DATA_DIR`,
    );
  }
  if (
    position === null &&
    (store.count() > 0 || store.feeds().some((f) => f.state.lastSuccessAt !== null))
  ) {
    throw new ReplicationError(
      'replication_refused',
      "DATA_DIR holds data this node ingested alone: a cluster node starts on an empty DATA_DIR and receives the cluster's data",
    );
  }
}

/** Retries a JetStream call until it succeeds (the cluster electing its leaders, say). */
export async function retry<T>(fn: () => Promise<T>, signal: AbortSignal, log: Logger): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (signal.aborted) throw error;
      if (attempt % 10 === 1) log.warn({ err: error, attempt }, 'NATS not ready yet; retrying');
      await sleep(Math.min(2_000, 100 * attempt));
    }
  }
}
