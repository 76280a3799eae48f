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
import { processIdentity } from '@tessera/runtime';
import type { ApplyCounts, FeedCommit, PollOutcome, StoreWriter } from '@tessera/store';
import type { Logger } from 'pino';
import { createBatchApplier } from './batch-applier.js';
import { createPublisher, type Publisher } from './batch-publisher.js';
import { readPosition } from './cluster-position.js';
import { LEASE_BUCKET } from './feed-lease.js';
import { commitSubject, FEED_STREAM, FEED_SUBJECTS } from './feed-message.js';
import { type LeaseSet, NODES_BUCKET, startLeaseSet } from './lease-set.js';
import {
  createOperatorChannel,
  mirrorPauses,
  type OperatorChannel,
  PAUSED_BUCKET,
} from './operator-channel.js';
import { ReplicationError } from './replication-error.js';
import { trackProgress } from './replication-progress.js';
import { type ReplicationStatus, writeReplicationStatus } from './replication-status.js';
import { followStream, type StreamFollower } from './stream-follower.js';

const CLUSTER_BUCKET = 'tessera_cluster';
const DATASET_KEY = 'dataset';
/** How often the status file is rewritten even when nothing changed: the API's liveness proof. */
const STATUS_EVERY_MS = 2_000;

export interface ReplicationOptions {
  servers: string[];
  store: StoreWriter;
  /** Where `replication.json` goes: the data directory the store is in (see replication-status.ts). */
  statusDir: string;
  log: Logger;
  /** How long a feed lease lasts unrenewed (LEASE_MS). */
  leaseMs: number;
  /** How this node names itself in the leases and the logs. */
  nodeId: string;
  /** The feeds the cluster runs: one lease each (every node is given the same list). */
  feeds: readonly string[];
  /**
   * A digest of this node's feed configuration (what shapes each feed's content): compared
   * with every other live node's, and a difference shown in the status.
   */
  configuration: string;
  /** The feed one-feed clusters' messages are of (they ran one: PROVIDER_ID). */
  legacyFeed: string;
  /** Consecutive failures to apply the stream after which replication gives up (the process exits). */
  storeFailureLimit: number;
}

export interface Replication {
  /**
   * A feed leader's write of a whole, sound feed: what differs from the committed store becomes
   * one batch on the stream, applied by every node; resolves with the counts once applied here.
   */
  publishFeed(
    feed: string,
    records: Iterable<EventRecord>,
    commit: FeedCommit,
  ): Promise<ApplyCounts>;
  /** A feed leader's record of a poll that changed no event. */
  publishState(feed: string, outcome: PollOutcome): Promise<void>;
  /**
   * Called when this node becomes a feed's leader (true) or stops being it (false); a handover
   * waits for the listener's promise (its polls stopped) before the lease is released.
   */
  onLeadership(listener: (feed: string, leading: boolean) => void | Promise<void>): void;
  /**
   * Resolves once this node has applied the whole stream, and readies the feed's publisher to
   * commit after the feed's last commit: what a leader awaits before each poll, so that it
   * compares the feed with the latest.
   */
  caughtUp(feed: string, signal: AbortSignal): Promise<void>;
  /** The feeds this node leads now. */
  leading(): string[];
  /**
   * A FEEDS reload: contends for these feeds from now on (see LeaseSet.setFeeds), and tells the
   * other nodes the new configuration's digest.
   */
  setFeeds(feeds: readonly string[], configuration: string): Promise<void>;
  /** Operator actions, carried to each feed's leader; pauses kept by the cluster. */
  readonly operator: OperatorChannel;
  /** Rejects when replication cannot go on (the store keeps failing, the stream is inconsistent). */
  readonly done: Promise<never>;
  close(): Promise<void>;
}

/**
 * Cluster mode, for one node: connects to NATS (forever, in the background: a node without NATS
 * serves what it has), makes sure the stream and buckets exist, applies the stream to the
 * store in order, contends for its share of the feed leases, and keeps `replication.json` up to
 * date for the API. Knows NATS and the store; nothing of HTTP or XML.
 */
export async function startReplication(options: ReplicationOptions): Promise<Replication> {
  const { store, log, nodeId } = options;
  const listeners: Array<(feed: string, leading: boolean) => void | Promise<void>> = [];
  let fail!: (error: Error) => void;
  const done = new Promise<never>((_, reject) => {
    fail = reject;
  });
  done.catch(() => {});
  const stopping = new AbortController();
  let follower: StreamFollower | undefined;

  const startedSequence = readPosition(store)?.appliedSequence ?? 0;
  /** Set once the leases start; the status names what they hold at each write. */
  let leaseSet: LeaseSet | undefined;
  const status: ReplicationStatus = {
    nodeId,
    role: 'follower',
    leading: [],
    leadingUntil: {},
    writer: processIdentity(),
    connected: false,
    appliedSequence: startedSequence,
    latestSequence: startedSequence,
    behindSince: null,
    diverged: null,
    configDiffers: [],
    updatedAt: Date.now(),
  };
  const writeStatus = (): void => {
    // What is held now, not what the last lease change said: a process woken from a pause past
    // its leases' cover writes its status (applying what arrived meanwhile) before their timers run.
    const held = leaseSet?.held() ?? new Map<string, number>();
    status.leading = [...held.keys()];
    status.leadingUntil = Object.fromEntries(held);
    status.role = status.leading.length > 0 ? 'leader' : 'follower';
    status.updatedAt = Date.now();
    try {
      writeReplicationStatus(options.statusDir, status);
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
  const bucket = (name: string, ttl?: number) =>
    retry(
      () =>
        kvm.create(name, {
          history: 1,
          replicas,
          storage: StorageType.File,
          ...(ttl === undefined ? {} : { ttl }),
        }),
      stopping.signal,
      log,
    );
  const clusterKv = await bucket(CLUSTER_BUCKET);
  const datasetId = await retry(() => datasetOf(clusterKv), stopping.signal, log);
  checkStore(store, datasetId);
  const applier = createBatchApplier({ store, datasetId, legacyFeed: options.legacyFeed, log });

  /** Feeds found to differ from the cluster's, re-syncing until their leader's digest matches. */
  const diverged = new Set<string>();
  const resync = async (feed: string, message: string): Promise<void> => {
    log.error(
      { code: 'state_diverged', feed },
      `state_diverged: ${message}; re-syncing feed ${feed} from its latest checkpoint`,
    );
    diverged.add(feed);
    status.diverged = { since: status.diverged?.since ?? Date.now(), message };
    writeStatus();
    await applier.resync(feed);
  };
  await verifyAtBoot(store, jsm, stopping.signal, log, resync);

  const leaseKv = await bucket(LEASE_BUCKET, options.leaseMs);
  const nodesKv = await bucket(NODES_BUCKET, options.leaseMs);
  const pausedKv = await bucket(PAUSED_BUCKET);
  const operator = createOperatorChannel(nc, pausedKv, log);
  void mirrorPauses(pausedKv, store, log).catch((error: unknown) =>
    log.warn({ err: error }, "stopped mirroring the cluster's pauses"),
  );

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
  const publishers = new Map<string, Publisher>();
  const publisherOf = (feed: string): Publisher => {
    let publisher = publishers.get(feed);
    if (publisher === undefined) {
      publisher = createPublisher({
        js,
        jsm,
        store,
        feed,
        legacyFeed: options.legacyFeed,
        log: log.child({ feed }),
        maxMessageBytes: Math.floor(maxPayload / 2),
        waitConsumed,
      });
      publishers.set(feed, publisher);
    }
    return publisher;
  };

  const progress = trackProgress(status, applier, log, writeStatus, {
    verified(feed) {
      if (!diverged.delete(feed) || diverged.size > 0 || status.diverged === null) return;
      log.info(
        { divergedMs: Date.now() - status.diverged.since },
        'every digest matches the cluster again: re-synced',
      );
      status.diverged = null;
    },
    consumed: consumedUpTo,
  });
  follower = followStream({
    js,
    jsm,
    applier,
    log,
    storeFailureLimit: options.storeFailureLimit,
    onFatal: fail,
    onLatest: (sequence) => progress.streamEnds(sequence),
    async onDiverged(error) {
      await resync(error.feed ?? options.legacyFeed, error.message);
    },
    onMessage: (msg, result) => progress.message(msg, result),
  });

  const leases: LeaseSet = startLeaseSet({
    leaseKv: leaseKv as KV,
    nodesKv: nodesKv as KV,
    feeds: options.feeds,
    nodeId,
    leaseMs: options.leaseMs,
    log,
    configuration: options.configuration,
    onDiffering(nodes) {
      status.configDiffers = nodes;
      writeStatus();
      if (nodes.length > 0) {
        log.warn(
          { nodes },
          'these nodes run another feed configuration (FEEDS): each feed then depends on which node leads it',
        );
      } else log.info('every live node runs this feed configuration');
    },
    async onChange(feed, leading) {
      writeStatus();
      await Promise.all(listeners.map((listener) => listener(feed, leading)));
    },
  });
  leaseSet = leases;

  return {
    publishFeed: (feed, records, commit) => publisherOf(feed).publishFeed(records, commit),
    publishState: (feed, outcome) => publisherOf(feed).publishState(outcome),
    operator,
    leading: () => leases.leading(),
    setFeeds: (feeds, configuration) => leases.setFeeds(feeds, configuration),
    done,
    onLeadership(listener) {
      listeners.push(listener);
      for (const feed of leases.leading()) void listener(feed, true);
    },
    async caughtUp(feed, signal) {
      let last: number;
      let lastCommit: number;
      try {
        last = (await jsm.streams.info(FEED_STREAM)).state.last_seq;
        const stored = await jsm.streams.getMessage(FEED_STREAM, {
          last_by_subj: commitSubject(feed),
        });
        lastCommit = stored?.seq ?? 0;
      } catch (cause) {
        throw new ReplicationError(
          'replication_unavailable',
          `cannot read where the feed stream ends: ${(cause as Error).message}`,
          { cause },
        );
      }
      await Promise.race([
        waitConsumed(Math.max(last, lastCommit)),
        new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
        ),
      ]);
      publisherOf(feed).startAt(lastCommit);
    },
    async close() {
      stopping.abort();
      clearInterval(statusTimer);
      await leases.close();
      await follower?.close();
      await applier.reset().catch(() => {});
      await nc.drain().catch(() => nc.close());
    },
  };
}

/**
 * Once per start, a scan: a store altered while its ingestor was stopped has stored digests that
 * no longer describe its events. Such a feed must not be served, nor led, before it re-synced.
 */
async function verifyAtBoot(
  store: StoreWriter,
  jsm: JetStreamManager,
  signal: AbortSignal,
  log: Logger,
  resync: (feed: string, message: string) => Promise<void>,
): Promise<void> {
  const { feeds } = store.verifyDigest();
  if (readPosition(store) === null || feeds.length === 0) return;
  const info = await retry(() => jsm.streams.info(FEED_STREAM), signal, log);
  if (info.state.messages === 0) {
    log.error(
      { code: 'state_diverged', feeds },
      'the store was altered, and the stream holds nothing to re-sync from: serving it as it is',
    );
    return;
  }
  for (const feed of feeds) {
    await resync(feed, `the events of feed ${feed} were altered while the ingestor was stopped`);
  }
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
