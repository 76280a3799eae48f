import type { EventRecord } from '@tessera/core';
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
 * batch that every node applies). A poll stages what it receives in a batch and only then
 * applies it, so that nothing is written, or published, while the partner is still sending.
 * The sink owns its stage for as long as it lives; a poll owns its batch from `begin` to `close`.
 */
export interface FeedSink {
  /** Resolves when the sink can take this poll (a cluster node: once it applied the whole stream). */
  prepare(signal: AbortSignal): Promise<void>;
  state(): FeedState;
  /** A poll's batch, empty; one at a time. */
  begin(): FeedBatch;
  /** Records a poll that changed no event (unchanged feed, or failure): state only. */
  recordPoll(outcome: PollOutcome): unknown;
  /** What an error this sink (its stage included) threw means for the poll; undefined: not its own. */
  failureOf(cause: unknown): IngestError | undefined;
  /** Closes what the sink opened (its stage). */
  close(): Promise<void>;
}

/** A poll's records while the document is still arriving. */
export interface FeedBatch {
  add(records: readonly EventRecord[]): void;
  /** Applies what the batch holds with the poll's state, all at once; resolves with the counts. */
  apply(commit: PollCommit): Promise<ApplyCounts>;
  /** Drops what the batch holds (applied or not): the stage is empty for the next poll. */
  close(): Promise<void>;
}

/** A batch held in a stage, applied by `apply` from the stage's records. */
export function stagedBatch(
  stage: FeedStage,
  apply: (records: Iterable<EventRecord>, commit: PollCommit) => Promise<ApplyCounts>,
): FeedBatch {
  return {
    add: (records) => stage.add(records),
    apply: (commit) => apply(stage.records(), commit),
    close: () => stage.clear(),
  };
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
    begin: () =>
      stagedBatch(stage, async (records, commit) =>
        store.applyFeed(feed, records, { ...commit, endedAt: now() }),
      ),
    recordPoll: (outcome) => store.recordPoll(feed, { ...outcome, endedAt: now() }),
    failureOf: storeFailure,
    close: () => stage.close(),
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
