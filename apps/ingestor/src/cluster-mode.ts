import { listenForActions } from '@tessera/operator';
import { type Replication, ReplicationError, startReplication } from '@tessera/replication';
import type { Service } from '@tessera/runtime';
import type { StoreWriter } from '@tessera/store';
import type { Logger } from 'pino';
import type { IngestorConfig } from './config.js';
import { digestFeeds, type FeedConfig, redactUrl } from './feed-config.js';
import { createFeedLoop, type FeedLoop } from './feed-loop.js';
import {
  diffFeeds,
  type FeedChanges,
  type FetchLimits,
  feedPollDeps,
  type SharedDeps,
  settingsOf,
} from './feed-set.js';
import { type FeedSink, stagedBatch, storeFailure } from './feed-sink.js';
import { reloadFeedsOnChange } from './feeds-reload.js';
import { IngestError } from './ingest-error.js';
import { createActionHandler } from './operator-actions.js';

/**
 * Cluster mode (NATS_URL set): every node applies the cluster's feed stream to its own store;
 * each feed has a lease, and whichever node holds it also polls that feed's partner, publishing
 * to the stream instead of writing the store. A node that loses a lease stops that feed's polls
 * at once; a lease handed over (a node joined) is released only once its polls stopped.
 */
export async function runClusterMode(
  config: IngestorConfig & { NATS_URL: string[] },
  store: StoreWriter,
  shared: SharedDeps,
  limits: FetchLimits,
  log: Logger,
  release: () => Promise<void>,
  env: Readonly<Record<string, string | undefined>>,
): Promise<Service> {
  const replication: Replication = await startReplication({
    servers: config.NATS_URL,
    store,
    statusDir: config.DATA_DIR,
    log,
    leaseMs: config.LEASE_MS,
    nodeId: config.NODE_ID,
    feeds: config.feeds.map((f) => f.id),
    configuration: digestFeeds(config.feeds),
    legacyFeed: config.PROVIDER_ID,
    storeFailureLimit: config.STORE_FAILURE_LIMIT,
  });
  const { promise: failed, reject: fail } = Promise.withResolvers<never>();
  failed.catch(() => {});

  const leaderOf = (feed: FeedConfig) => ({
    settings: settingsOf(feed),
    ...feedLeader(feed, store, replication, shared, limits, config.NODE_ID, fail),
  });
  const leaders = new Map(config.feeds.map((feed) => [feed.id, leaderOf(feed)]));
  replication.onLeadership((feed, leading) => leaders.get(feed)?.lead(leading));

  /**
   * A FEEDS reload: the leaders of removed and changed feeds stop first (their polls end before
   * their leases are handed over), new ones are ready before their leases are contended for, and
   * a changed feed whose lease this node keeps starts its new term at once.
   */
  const reload = async (next: readonly FeedConfig[]): Promise<FeedChanges> => {
    const changes = diffFeeds(
      new Map([...leaders].map(([id, leader]) => [id, leader.settings])),
      next,
    );
    for (const id of [...changes.removed, ...changes.changed]) {
      await leaders.get(id)?.close();
      leaders.delete(id);
    }
    for (const feed of next) if (!leaders.has(feed.id)) leaders.set(feed.id, leaderOf(feed));
    await replication.setFeeds(
      next.map((f) => f.id),
      digestFeeds(next),
    );
    store.configureFeeds(next.map((f) => ({ id: f.id, url: redactUrl(f.url) })));
    const leading = replication.leading();
    for (const id of changes.changed) if (leading.includes(id)) await leaders.get(id)?.lead(true);
    return changes;
  };
  const stopReloading = reloadFeedsOnChange(env, { reload }, log);
  // An action reaching this node goes to the feed's leader, wherever that is (this node too).
  const control = await listenForActions(config.DATA_DIR, (request) =>
    replication.operator.ask(request),
  );

  let closing: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (closing ??= (async () => {
      stopReloading();
      await control.close();
      await Promise.allSettled([...leaders.values()].map((leader) => leader.close()));
      await replication.close();
      await release();
    })());
  const done = Promise.race([replication.done, failed]).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  return { done, stop };
}

/** One feed's terms of leadership on this node, one at a time, in order. */
function feedLeader(
  feed: FeedConfig,
  store: StoreWriter,
  replication: Replication,
  shared: SharedDeps,
  limits: FetchLimits,
  node: string,
  fail: (error: unknown) => void,
): { lead(leading: boolean): Promise<void>; close(): Promise<void> } {
  const { fetcher, deps } = feedPollDeps(feed, shared, limits);
  // The leader's polls stage here and publish what changed, as one batch, once the feed is whole.
  const stage = store.openStage(`poll-${feed.id}`);
  const sink: FeedSink = {
    // The feed is compared with the cluster's latest data before anything is published.
    prepare: (signal) => replication.caughtUp(feed.id, signal),
    state: () => store.state(feed.id),
    // A poll's end is stamped here, as a single node's sink does, so that its run has a duration.
    begin: () =>
      stagedBatch(stage, (records, commit) =>
        replication.publishFeed(feed.id, records, { ...commit, endedAt: Date.now() }),
      ),
    recordPoll: (outcome) => replication.publishState(feed.id, { ...outcome, endedAt: Date.now() }),
    failureOf: (cause) => replicationFailure(cause) ?? storeFailure(cause),
    close: () => stage.close(),
  };
  let term: { feedLoop: FeedLoop; stopServing: () => void } | undefined;
  let changing = Promise.resolve();
  const { operator } = replication;
  const begin = async (): Promise<void> => {
    // A pause is the cluster's: a new leader keeps it (NATS unreachable: none is known).
    const paused = await operator.paused(feed.id).catch(() => false);
    const feedLoop = createFeedLoop({ ...deps, store: sink }, { paused });
    const act = createActionHandler(
      {
        loopOf: (id) => (id === feed.id ? feedLoop : undefined),
        recordPaused: (id, pause) => operator.setPaused(id, pause),
        node,
      },
      deps.log,
    );
    term = { feedLoop, stopServing: operator.serve(feed.id, act) };
    feedLoop.run().catch(fail);
  };
  const lead = (leading: boolean): Promise<void> =>
    (changing = changing.then(async () => {
      if (leading && term === undefined) {
        await begin();
      } else if (!leading && term !== undefined) {
        const ending = term;
        term = undefined;
        ending.stopServing();
        await ending.feedLoop.stop();
      }
    }));
  return {
    lead,
    async close() {
      await lead(false);
      await fetcher.close().catch(() => {});
      // A reload may start this feed's leader again, with a stage of the same name.
      await sink.close();
    },
  };
}

/** A replication error as a leader's poll failure; undefined for any other. */
function replicationFailure(cause: unknown): IngestError | undefined {
  if (!(cause instanceof ReplicationError)) return undefined;
  // Fenced: another node leads now and its feed is the one that counts; nothing to report.
  return cause.code === 'replication_fenced'
    ? new IngestError('aborted', cause.message, { cause })
    : new IngestError('replication_unavailable', cause.message, { cause });
}
