import {
  type ApplyCounts,
  type FeedStage,
  type FeedState,
  type PollCommit,
  type PollOutcome,
  StoreError,
  type StoreErrorCode,
  type StoreWriter,
} from '@tessera/store';
import { IngestError, type IngestErrorCode } from './ingest-error.js';

/**
 * Where one poll writes: the store itself (one node), or the cluster (the leader publishes a
 * batch that every node applies). A poll stages what it receives and only then applies it, so
 * that nothing is written, or published, while the partner is still sending.
 */
export interface FeedSink {
  /** Resolves when the sink can take this poll (a cluster node: once it applied the whole stream). */
  prepare(signal: AbortSignal): Promise<void>;
  state(): FeedState;
  /** Where the poll's records wait until the whole document proved sound. */
  readonly stage: FeedStage;
  /** Applies what the stage holds with the poll's state, all at once; resolves with the counts. */
  apply(commit: PollCommit): Promise<ApplyCounts>;
  /** Records a poll that changed no event (unchanged feed, or failure): state only. */
  recordPoll(outcome: PollOutcome): unknown;
  /** What an error this sink (its stage included) threw means for the poll; undefined: not its own. */
  failureOf(cause: unknown): IngestError | undefined;
}

/**
 * A single node's sink for one feed: the store, applying the feed's own stage in one
 * transaction. A poll's end is stamped here, so that its run has a duration.
 */
export function storeSink(store: StoreWriter, feed: string, now = Date.now): FeedSink {
  const stage = store.openStage(`feed-${feed}`);
  return {
    prepare: async () => {},
    state: () => store.state(feed),
    stage,
    apply: async (commit) => store.applyFeed(feed, stage.records(), { ...commit, endedAt: now() }),
    recordPoll: (outcome) => store.recordPoll(feed, { ...outcome, endedAt: now() }),
    failureOf: storeFailure,
  };
}

const STORE_CODES: Record<StoreErrorCode, IngestErrorCode> = {
  store_unavailable: 'store_unavailable',
  store_locked: 'store_unavailable',
  store_layout_mismatch: 'store_unavailable',
  store_write_failed: 'store_write_failed',
  // Our parser produced a record the store refuses: a bug, not the partner's doing.
  invalid_record: 'internal_error',
};

/** A store's error (a stage's, or a write's) as the poll's failure; undefined for any other. */
export function storeFailure(cause: unknown): IngestError | undefined {
  return cause instanceof StoreError
    ? new IngestError(STORE_CODES[cause.code], cause.message, { cause })
    : undefined;
}
