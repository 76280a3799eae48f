import type { JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { EventRecord } from '@tessera/core';
import type { ApplyCounts, PollCommit, PollOutcome, StoreWriter } from '@tessera/store';
import type { Logger } from 'pino';
import { createBatchApplier } from './batch-applier.js';
import { createPublisher, type Publisher, type PublisherOptions } from './batch-publisher.js';
import { connectCluster, watchConnection } from './cluster-connection.js';
import { readPosition } from './cluster-position.js';
import { setUpCluster } from './cluster-setup.js';
import { trackDivergence, verifyAtBoot } from './divergence.js';
import { LEASE_BUCKET } from './feed-lease.js';
import { commitSubject, FEED_STREAM } from './feed-message.js';
import { type LeaseSet, NODES_BUCKET, startLeaseSet } from './lease-set.js';
import {
  createOperatorChannel,
  mirrorPauses,
  type OperatorChannel,
  PAUSED_BUCKET,
} from './operator-channel.js';
import { ReplicationError } from './replication-error.js';
import { trackProgress } from './replication-progress.js';
import { createSequenceWaiter } from './sequence-waiter.js';
import { type StatusReporter, startStatusReporter } from './status-reporter.js';
import { followStream, type StreamFollower } from './stream-follower.js';

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
    commit: PollCommit,
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
  const { promise: done, reject: fail } = Promise.withResolvers<never>();
  done.catch(() => {});
  const stopping = new AbortController();
  let follower: StreamFollower | undefined;

  const reporter = startStatusReporter({
    dir: options.statusDir,
    nodeId,
    appliedSequence: readPosition(store)?.appliedSequence ?? 0,
    log,
  });
  const { status } = reporter;
  const nc = await connectCluster(options.servers, nodeId);
  status.connected = true;
  reporter.write();
  void watchConnection(nc, log, (connected) => {
    status.connected = connected;
    // The consumer may have lived on the server that went away: read on through a new one.
    if (connected) follower?.renew();
    reporter.write();
  });

  const { js, jsm, bucket, datasetId } = await setUpCluster(nc, store, stopping.signal, log);
  const applier = createBatchApplier({ store, datasetId, legacyFeed: options.legacyFeed, log });
  const divergence = trackDivergence(reporter, applier, log);
  await verifyAtBoot(store, jsm, stopping.signal, log, divergence);

  const leaseKv = await bucket(LEASE_BUCKET, options.leaseMs);
  const nodesKv = await bucket(NODES_BUCKET, options.leaseMs);
  const pausedKv = await bucket(PAUSED_BUCKET);
  const operator = createOperatorChannel(nc, pausedKv, log);
  void mirrorPauses(pausedKv, store, log).catch((error: unknown) =>
    log.warn({ err: error }, "stopped mirroring the cluster's pauses"),
  );

  const consumed = createSequenceWaiter(() => applier.consumed());
  const publisherOf = createPublisherRegistry({
    js,
    jsm,
    store,
    legacyFeed: options.legacyFeed,
    log,
    maxMessageBytes: Math.floor((nc.info?.max_payload ?? 1024 * 1024) / 2),
    waitConsumed: consumed.wait,
  });

  const progress = trackProgress(status, applier, log, reporter.write, {
    verified: divergence.verified,
    consumed: consumed.reached,
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
      await divergence.resync(error.feed ?? options.legacyFeed, error.message);
    },
    onMessage: (msg, result) => progress.message(msg, result),
  });

  const leases = startNodeLeases(options, { leaseKv, nodesKv }, reporter, async (feed, leading) => {
    await Promise.all(listeners.map((listener) => listener(feed, leading)));
  });

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
      const { last, lastCommit } = await streamEnd(jsm, feed);
      await Promise.race([
        consumed.wait(Math.max(last, lastCommit)),
        new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
        ),
      ]);
      publisherOf(feed).startAt(lastCommit);
    },
    async close() {
      stopping.abort();
      reporter.close();
      await leases.close();
      await follower?.close();
      await applier.reset().catch(() => {});
      await nc.drain().catch(() => nc.close());
    },
  };
}

/**
 * This node's share of the feed leases, named in the status at every change (and the nodes that
 * run another feed configuration, warned about).
 */
function startNodeLeases(
  options: ReplicationOptions,
  kv: { leaseKv: KV; nodesKv: KV },
  reporter: StatusReporter,
  changed: (feed: string, leading: boolean) => Promise<void>,
): LeaseSet {
  const { log } = options;
  const leases = startLeaseSet({
    ...kv,
    feeds: options.feeds,
    nodeId: options.nodeId,
    leaseMs: options.leaseMs,
    log,
    configuration: options.configuration,
    onDiffering(nodes) {
      reporter.status.configDiffers = nodes;
      reporter.write();
      if (nodes.length > 0) {
        log.warn(
          { nodes },
          'these nodes run another feed configuration (FEEDS): each feed then depends on which node leads it',
        );
      } else log.info('every live node runs this feed configuration');
    },
    async onChange(feed, leading) {
      reporter.write();
      await changed(feed, leading);
    },
  });
  reporter.reportLeases(() => leases.held());
  return leases;
}

/** Where the feed stream ends, and where the feed's own last commit is in it. */
async function streamEnd(
  jsm: JetStreamManager,
  feed: string,
): Promise<{ last: number; lastCommit: number }> {
  try {
    const last = (await jsm.streams.info(FEED_STREAM)).state.last_seq;
    const stored = await jsm.streams.getMessage(FEED_STREAM, {
      last_by_subj: commitSubject(feed),
    });
    return { last, lastCommit: stored?.seq ?? 0 };
  } catch (cause) {
    throw new ReplicationError(
      'replication_unavailable',
      `cannot read where the feed stream ends: ${(cause as Error).message}`,
      { cause },
    );
  }
}

/** One publisher per feed this node has led, made at its first use. */
function createPublisherRegistry(
  options: Omit<PublisherOptions, 'feed'>,
): (feed: string) => Publisher {
  const publishers = new Map<string, Publisher>();
  return (feed) => {
    let publisher = publishers.get(feed);
    if (publisher === undefined) {
      publisher = createPublisher({ ...options, feed, log: options.log.child({ feed }) });
      publishers.set(feed, publisher);
    }
    return publisher;
  };
}
