import { type Replication, startReplication } from '@tessera/replication';
import type { Service } from '@tessera/runtime';
import type { StoreWriter } from '@tessera/store';
import type { Logger } from 'pino';
import type { IngestorConfig } from './config.js';
import type { FeedSink } from './feed-sink.js';
import { createIngestor, type Ingestor, type IngestorDeps } from './ingestor.js';

/**
 * Cluster mode (NATS_URL set): every node applies the cluster's feed stream to its own store;
 * whichever node holds the feed lease also polls the partner, and its polls publish to the stream
 * instead of writing the store. A node that loses the lease stops polling at once.
 */
export async function runClusterMode(
  config: IngestorConfig & { NATS_URL: string[] },
  /** The cluster's one feed (main refuses several in cluster mode). */
  feed: string,
  store: StoreWriter,
  pollDeps: Omit<IngestorDeps, 'store'>,
  log: Logger,
  release: () => Promise<void>,
): Promise<Service> {
  const replication: Replication = await startReplication({
    servers: config.NATS_URL,
    store,
    log,
    leaseMs: config.LEASE_MS,
    nodeId: config.NODE_ID,
    feed,
    storeFailureLimit: config.STORE_FAILURE_LIMIT,
  });
  // The leader's polls stage here and publish what changed, as one batch, once the feed is whole.
  const stage = store.openStage('poll');
  const sink: FeedSink = {
    state: () => store.state(feed),
    stage,
    apply: (commit) => replication.publishFeed(stage.records(), commit),
    recordPoll: (outcome) => replication.publishState(outcome),
  };
  let fail!: (error: unknown) => void;
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  failed.catch(() => {});

  // One term of leadership at a time, in order: a lost lease stops the polls before a new one begins.
  let term: Ingestor | undefined;
  let changing = Promise.resolve();
  replication.onLeadership((leading) => {
    changing = changing.then(async () => {
      if (leading && term === undefined) {
        term = createIngestor({
          ...pollDeps,
          store: sink,
          prepare: (signal) => replication.caughtUp(signal),
        });
        term.run().catch(fail);
      } else if (!leading && term !== undefined) {
        const ending = term;
        term = undefined;
        await ending.stop();
      }
    });
  });

  let closing: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (closing ??= (async () => {
      await changing;
      await term?.stop();
      await replication.close();
      await release();
    })());
  const done = Promise.race([replication.done, failed]).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  return { done, stop };
}
