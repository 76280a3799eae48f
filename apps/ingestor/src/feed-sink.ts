import type {
  ApplyCounts,
  FeedCommit,
  FeedStage,
  FeedState,
  PollOutcome,
  StoreWriter,
} from '@tessera/store';

/**
 * Where one poll writes: the store itself (one node), or the cluster (the leader publishes a
 * batch that every node applies). A poll stages what it receives and only then applies it, so
 * that nothing is written, or published, while the partner is still sending.
 */
export interface FeedSink {
  state(): FeedState;
  /** Where the poll's records wait until the whole document proved sound. */
  readonly stage: FeedStage;
  /** Applies what the stage holds with the poll's state, all at once; resolves with the counts. */
  apply(commit: FeedCommit): Promise<ApplyCounts>;
  /** Records a poll that changed no event (unchanged feed, or failure): state only. */
  recordPoll(outcome: PollOutcome): unknown;
}

/**
 * A single node's sink for one feed: the store, applying the feed's own stage in one
 * transaction. A poll's end is stamped here, so that its run has a duration.
 */
export function storeSink(store: StoreWriter, feed: string, now = Date.now): FeedSink {
  const stage = store.openStage(`feed-${feed}`);
  return {
    state: () => store.state(feed),
    stage,
    apply: async (commit) => store.applyFeed(feed, stage.records(), { ...commit, endedAt: now() }),
    recordPoll: (outcome) => store.recordPoll(feed, { ...outcome, endedAt: now() }),
  };
}
