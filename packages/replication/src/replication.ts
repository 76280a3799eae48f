import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  StorageType,
} from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import type { EventRecord } from '@tessera/core';
import type {
  ApplyCounts,
  FeedCommit,
  PollOutcome,
  ReplicationStatus,
  StoreWriter,
} from '@tessera/store';
import type { Logger } from 'pino';
import { createBatchApplier } from './batch-applier.js';
import { createPublisher, type Publisher } from './batch-publisher.js';
import { type FeedLease, LEASE_BUCKET, startFeedLease } from './feed-lease.js';
import { FEED_STREAM, FEED_SUBJECT } from './feed-message.js';
import { ReplicationError } from './replication-error.js';
import { followStream, type StreamFollower } from './stream-follower.js';

const CLUSTER_BUCKET = 'tessera_cluster';
const DATASET_KEY = 'dataset';
/** How often the status file is rewritten even when nothing changed: the API's liveness proof. */
const STATUS_EVERY_MS = 2_000;

export interface ReplicationOptions {
  servers: string[];
  store: StoreWriter;
  log: Logger;
  /** How long the feed lease lasts unrenewed (LEASE_MS). */
  leaseMs: number;
  /** How this node names itself in the lease and the logs. */
  nodeId: string;
  /** The feed the cluster runs (one per cluster: see the README). */
  feed: string;
  /** Consecutive failures to apply the stream after which replication gives up (the process exits). */
  storeFailureLimit: number;
}

export interface Replication {
  /**
   * The leader's write of a whole, sound feed: what differs from the committed store becomes one
   * batch on the stream, applied by every node; resolves with the counts once applied here.
   */
  publishFeed(records: Iterable<EventRecord>, commit: FeedCommit): Promise<ApplyCounts>;
  /** The leader's record of a poll that changed no event. */
  publishState(outcome: PollOutcome): Promise<void>;
  /** Called when this node becomes the leader (true) or stops being it (false). */
  onLeadership(listener: (leading: boolean) => void): void;
  /**
   * Resolves once this node has applied the whole stream, and readies the sink to publish after
   * it: what the leader awaits before each poll, so that it compares the feed with the latest.
   */
  caughtUp(signal: AbortSignal): Promise<void>;
  /** Rejects when replication cannot go on (the store keeps failing, the stream is inconsistent). */
  readonly done: Promise<never>;
  close(): Promise<void>;
}

/**
 * Cluster mode, for one node: connects to NATS (forever, in the background: a node without NATS
 * serves what it has), makes sure the stream and buckets exist, applies the stream to the
 * store in order, contends for the feed lease, and keeps `replication.json` up to date for the
 * API. Knows NATS and the store; nothing of HTTP or XML.
 */
export async function startReplication(options: ReplicationOptions): Promise<Replication> {
  const { store, log, nodeId } = options;
  const listeners: Array<(leading: boolean) => void> = [];
  let fail!: (error: Error) => void;
  const done = new Promise<never>((_, reject) => {
    fail = reject;
  });
  done.catch(() => {});
  const stopping = new AbortController();
  let follower: StreamFollower | undefined;

  const status: ReplicationStatus = {
    nodeId,
    role: 'follower',
    connected: false,
    appliedSequence: store.cluster()?.appliedSequence ?? 0,
    latestSequence: store.cluster()?.appliedSequence ?? 0,
    behindSince: null,
    diverged: null,
    updatedAt: Date.now(),
  };
  const writeStatus = (): void => {
    status.updatedAt = Date.now();
    try {
      store.writeReplicationStatus(status);
    } catch (error) {
      log.warn({ err: error }, 'could not write the replication status');
    }
  };
  writeStatus();
  const statusTimer = setInterval(writeStatus, STATUS_EVERY_MS);

  const nc = await connect({
    servers: options.servers,
    name: `tessera-ingestor ${nodeId}`,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: true,
    pingInterval: 2_000,
    maxPingOut: 2,
  });
  status.connected = true;
  writeStatus();
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnecting' || s.type === 'staleConnection') {
        if (status.connected)
          log.warn({ status: s.type }, 'NATS unreachable: serving what this node has');
        status.connected = false;
      } else if (s.type === 'reconnect') {
        log.info('NATS reachable again');
        status.connected = true;
        // The consumer may have lived on the server that went away: read on through a new one.
        follower?.renew();
      } else continue;
      writeStatus();
    }
  })();

  const js = jetstream(nc, { timeout: 5_000 });
  const jsm = await retry(() => jetstreamManager(nc, { timeout: 5_000 }), stopping.signal, log);
  const replicas = Math.min(3, Math.max(1, nc.info?.connect_urls?.length ?? 1));
  await retry(() => ensureStream(jsm, replicas), stopping.signal, log);
  const kvm = new Kvm(js);
  const clusterKv = await retry(
    () => kvm.create(CLUSTER_BUCKET, { history: 1, replicas, storage: StorageType.File }),
    stopping.signal,
    log,
  );
  const datasetId = await retry(() => datasetOf(clusterKv), stopping.signal, log);
  checkStore(store, datasetId);
  /** The store differs from the cluster's: empty it and read the stream again from its start. */
  const resync = (message: string): void => {
    log.error(
      { code: 'state_diverged' },
      `state_diverged: ${message}; re-syncing from the latest checkpoint`,
    );
    status.diverged = { since: status.diverged?.since ?? Date.now(), message };
    writeStatus();
    store.resetForResync(datasetId);
  };
  // Once per start, a scan: a store altered while its ingestor was stopped has a stored digest
  // that no longer describes its events. It must not serve, nor lead, before it re-synced.
  const { stored, actual } = store.verifyDigest();
  if (store.cluster() !== null && stored !== actual) {
    const messages = await retry(() => jsm.streams.info(FEED_STREAM), stopping.signal, log);
    if (messages.state.messages > 0) {
      resync(
        `the store was altered while its ingestor was stopped (digest ${stored}, events ${actual})`,
      );
    } else {
      log.error(
        { code: 'state_diverged' },
        'the store was altered, and the stream holds nothing to re-sync from: serving it as it is',
      );
    }
  }
  const leaseKv = await retry(
    () =>
      kvm.create(LEASE_BUCKET, {
        history: 1,
        replicas,
        ttl: options.leaseMs,
        storage: StorageType.File,
      }),
    stopping.signal,
    log,
  );

  const applier = createBatchApplier({ store, datasetId, feed: options.feed, log });
  const waiters = new Set<{ sequence: number; resolve: () => void }>();
  const consumedUpTo = (sequence: number): void => {
    for (const w of waiters) {
      if (w.sequence <= sequence) {
        waiters.delete(w);
        w.resolve();
      }
    }
  };
  const waitConsumed = (sequence: number): Promise<void> =>
    applier.consumed() >= sequence
      ? Promise.resolve()
      : new Promise<void>((resolve) => waiters.add({ sequence, resolve }));

  const maxPayload = nc.info?.max_payload ?? 1024 * 1024;
  const publisher: Publisher = createPublisher({
    js,
    jsm,
    store,
    feed: options.feed,
    log,
    maxMessageBytes: Math.floor(maxPayload / 2),
    waitConsumed,
  });

  // What this node read to catch up after it started: about the state's size, not the history's.
  const startedAt = Date.now();
  const catchUp = { messages: 0, bytes: 0, done: false };
  follower = followStream({
    js,
    jsm,
    applier,
    log,
    storeFailureLimit: options.storeFailureLimit,
    onFatal: fail,
    onLatest(sequence) {
      if (sequence > status.latestSequence) {
        status.latestSequence = sequence;
        status.behindSince ??= Date.now();
      }
    },
    async onDiverged(error) {
      resync(error.message);
      await applier.reset();
    },
    onMessage(msg, result) {
      if (result.verified && status.diverged !== null) {
        log.info(
          { divergedMs: Date.now() - status.diverged.since },
          'state digest matches the cluster again: re-synced',
        );
        status.diverged = null;
        writeStatus();
      }
      consumedUpTo(msg.seq);
      const publishedAt = msg.time.getTime();
      status.latestSequence = Math.max(status.latestSequence, msg.seq + msg.info.pending);
      if (!catchUp.done) {
        catchUp.messages++;
        catchUp.bytes += msg.data.length;
        if (msg.info.pending === 0) {
          catchUp.done = true;
          log.info(
            {
              messages: catchUp.messages,
              bytes: catchUp.bytes,
              ms: Date.now() - startedAt,
              appliedSequence: applier.applied(),
            },
            'caught up with the cluster',
          );
        }
      }
      const applied = applier.applied();
      // Behind since the oldest message taken in but not yet committed (a batch still open).
      const behindSince =
        applied >= status.latestSequence ? null : (status.behindSince ?? publishedAt);
      if (applied !== status.appliedSequence || behindSince !== status.behindSince) {
        status.appliedSequence = applied;
        status.behindSince = behindSince;
        writeStatus();
      }
    },
  });

  const lease: FeedLease = startFeedLease({
    kv: leaseKv as KV,
    nodeId,
    leaseMs: options.leaseMs,
    log,
    onChange(leading) {
      status.role = leading ? 'leader' : 'follower';
      writeStatus();
      for (const listener of listeners) listener(leading);
    },
  });

  return {
    publishFeed: publisher.publishFeed,
    publishState: publisher.publishState,
    done,
    onLeadership(listener) {
      listeners.push(listener);
      if (lease.isLeader()) listener(true);
    },
    async caughtUp(signal) {
      let last: number;
      try {
        last = (await jsm.streams.info(FEED_STREAM)).state.last_seq;
      } catch (cause) {
        throw new ReplicationError(
          'replication_unavailable',
          `cannot read where the feed stream ends: ${(cause as Error).message}`,
          { cause },
        );
      }
      const waiting = waitConsumed(last);
      await Promise.race([
        waiting,
        new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
        ),
      ]);
      publisher.startAt(last);
    },
    async close() {
      stopping.abort();
      clearInterval(statusTimer);
      await lease.close();
      await follower?.close();
      await applier.reset().catch(() => {});
      await nc.drain().catch(() => nc.close());
    },
  };
}

async function ensureStream(jsm: JetStreamManager, replicas: number): Promise<void> {
  try {
    await jsm.streams.info(FEED_STREAM);
  } catch {
    await jsm.streams.add({
      name: FEED_STREAM,
      subjects: [FEED_SUBJECT],
      storage: StorageType.File,
      num_replicas: replicas,
    });
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
  const position = store.cluster();
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
async function retry<T>(fn: () => Promise<T>, signal: AbortSignal, log: Logger): Promise<T> {
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
