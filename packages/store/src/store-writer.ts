import { mkdirSync } from 'node:fs';
import { type EventRecord, EventRecordSchema } from '@tessera/core';
import { ABORT } from 'lmdb';
import { type Environment, openForWriting, readHead, unavailable } from './environment.js';
import {
  CLUSTER_KEY,
  decodeEnd,
  encodeEventValue,
  eventKey,
  HEAD_KEY,
  type Head,
  type IdEntry,
  STATE_KEY,
  summaryBytes,
  valueDigest,
} from './layout.js';
import { type ReplicationStatus, writeReplicationStatus } from './replication-status.js';
import { describeCause, StoreError } from './store-error.js';
import {
  type ApplyCounts,
  changedAnything,
  type FeedValidators,
  nextState,
  type PollOutcome,
  type StoreState,
} from './store-state.js';
import { type StoreView, viewOf } from './store-view.js';
import { acquireWriterLock, type WriterLock } from './writer-lock.js';

export interface OpenStoreWriterOptions {
  /** The store directory (DATA_DIR); created if missing. */
  path: string;
}

/** How a single node's own poll closes its feed: the version moves by one if an event changed. */
export interface FeedCommit {
  at: number;
  validators: FeedValidators;
}

/**
 * How a write replicated from the cluster closes (cluster mode): it records the stream sequence
 * it completes in the same transaction (exactly-once apply across crashes), the cluster's version
 * and state, and makes the store the dataset's, so that every node names the same content alike.
 */
export interface ReplicatedCommit {
  /** Stream sequence of the message that completes this write. */
  sequence: number;
  datasetId: string;
  /** The cluster's version after this write; undefined keeps the current one. */
  version?: number;
  state: StoreState;
}

/** Where a store stands in the cluster's stream; null for a store that never joined one. */
export interface ClusterPosition {
  datasetId: string;
  appliedSequence: number;
}

export type RecordChange = 'inserted' | 'updated' | 'moved' | 'unchanged';

/**
 * One feed's write transaction, open while the feed streams in: records are written as they
 * arrive (no copy of the feed is held in memory) and become visible together at commit, or
 * never, on abort. Reads in this process see the uncommitted writes; other processes do not.
 */
export interface FeedWriter {
  upsert(record: EventRecord): RecordChange;
  /**
   * Resolves once what was upserted so far has been taken in (backpressure): immediate for the
   * store itself, later for a writer that publishes to the cluster.
   */
  settle(): Promise<void>;
  /** Writes the state record and commits durably; resolves with the counts. */
  commit(commit: FeedCommit): Promise<ApplyCounts>;
  /** Discards everything written since beginFeed. */
  abort(): Promise<void>;
}

/** What one poll needs of where it writes: the store itself, or the cluster (cluster mode). */
export interface FeedSink {
  state(): StoreState;
  /** What applying this record would do, read outside any write transaction. */
  classify(record: EventRecord): RecordChange;
  /**
   * Opens the transaction for one streamed feed. Only one may be open at a time, and no other
   * write may be made until it is committed or aborted.
   */
  beginFeed(): FeedWriter;
  /** Records a poll that changed no event (unchanged feed, or failure): state only. */
  recordPoll(outcome: PollOutcome): unknown;
}

/** The store's own feed writer, which a replicated batch may also close. */
export interface StoreFeedWriter extends FeedWriter {
  commitReplicated(commit: ReplicatedCommit): Promise<ApplyCounts>;
}

/** The one process that writes the store (the ingestor), holding its writer lock. */
export interface StoreWriter extends StoreView, FeedSink {
  /**
   * Applies one feed's upserts and the state update in a single durable transaction. Never
   * deletes an event. If anything throws midway (the records iterable included), the
   * transaction aborts and the store is exactly as before.
   */
  applyFeed(records: Iterable<EventRecord>, commit: FeedCommit): ApplyCounts;
  beginFeed(): StoreFeedWriter;
  recordPoll(outcome: PollOutcome): StoreState;
  /** Cluster mode: records a replicated write that changed no event (a state message). */
  recordReplicated(commit: ReplicatedCommit): void;
  /** Where the store stands in the cluster's stream, if it ever joined one. */
  cluster(): ClusterPosition | null;
  /**
   * Every stored event as a record, in key order, from one snapshot (read at the first call to
   * next): what a cluster checkpoint copies.
   */
  records(): IterableIterator<EventRecord>;
  /** Cluster mode: replaces the replication status the API reports. */
  writeReplicationStatus(status: ReplicationStatus): void;
  /** LMDB's last committed transaction id: lets tests and diagnostics see whether a write happened. */
  lastTransactionId(): number;
  close(): Promise<void>;
}

function emptyCounts(): ApplyCounts {
  return { inserted: 0, updated: 0, moved: 0, unchanged: 0 };
}

/**
 * Opens the store for writing: creates the directory and the store if needed, takes the writer
 * lock (failing at once with `store_locked` if another process holds it), and checks the layout.
 */
export function openStoreWriter(options: OpenStoreWriterOptions): StoreWriter {
  const { path } = options;
  let lock: WriterLock;
  try {
    mkdirSync(path, { recursive: true });
    lock = acquireWriterLock(path);
  } catch (cause) {
    throw cause instanceof StoreError ? cause : unavailable(path, cause);
  }
  let env: Environment;
  try {
    env = openForWriting(path);
  } catch (cause) {
    lock.release();
    throw cause;
  }
  return createWriter(env, lock);
}

function createWriter(env: Environment, lock: WriterLock): StoreWriter {
  const { root, events, ids, meta } = env;
  const view = viewOf(env);
  let feedOpen = false;

  const classify = (record: EventRecord): RecordChange => {
    let current: IdEntry | undefined;
    try {
      current = ids.get(record.id);
    } catch (cause) {
      throw unavailable(env.path, cause, 'read');
    }
    if (current === undefined) return 'inserted';
    if (current[0] !== record.startsAt) return 'moved';
    // The digest in `ids` answers "unchanged?" without reading the event itself: an unchanged
    // feed touches only the small ids pages, not every stored event.
    return current[1] === valueDigest(record) ? 'unchanged' : 'updated';
  };

  const write = <T>(what: string, fn: () => T): T => {
    if (feedOpen) {
      throw new StoreError('store_write_failed', `${what} while a feed transaction is open`);
    }
    try {
      return root.transactionSync(fn);
    } catch (cause) {
      if (cause instanceof StoreError) throw cause;
      throw new StoreError(
        'store_write_failed',
        `${what} failed and was rolled back: ${describeCause(cause)}`,
        { cause },
      );
    }
  };

  /** Writes one record in the current write transaction unless it is unchanged. */
  const upsert = (record: EventRecord): RecordChange => {
    if (!EventRecordSchema.safeParse(record).success) {
      throw new StoreError('invalid_record', `refusing malformed record ${String(record?.id)}`);
    }
    const change = classify(record);
    if (change === 'unchanged') return change;
    if (change === 'moved') {
      const previous = ids.get(record.id);
      if (previous !== undefined) events.removeSync(eventKey(previous[0], record.id));
    }
    events.putSync(
      eventKey(record.startsAt, record.id),
      encodeEventValue(record.endsAt, record.summary),
    );
    ids.putSync(record.id, [record.startsAt, valueDigest(record)]);
    return change;
  };

  /** What closes a single node's feed: the state record, and the version if an event changed. */
  const finish = (counts: ApplyCounts, commit: FeedCommit): void => {
    if (changedAnything(counts)) {
      const head = readHead(env);
      meta.putSync(HEAD_KEY, { ...head, version: head.version + 1 } satisfies Head);
    }
    meta.putSync(STATE_KEY, nextState(view.state(), { ok: true, ...commit, counts }));
  };

  /** What closes a replicated write: the cluster's position, version and state, all at once. */
  const finishReplicated = (commit: ReplicatedCommit): void => {
    const head = readHead(env);
    meta.putSync(HEAD_KEY, {
      storeId: commit.datasetId,
      version: commit.version ?? head.version,
    } satisfies Head);
    meta.putSync(STATE_KEY, commit.state);
    meta.putSync(CLUSTER_KEY, {
      datasetId: commit.datasetId,
      appliedSequence: commit.sequence,
    } satisfies ClusterPosition);
  };

  return {
    ...view,
    classify,

    applyFeed(records, commit) {
      return write('applying the feed', () => {
        const counts = emptyCounts();
        for (const record of records) counts[upsert(record)]++;
        finish(counts, commit);
        return counts;
      });
    },

    beginFeed() {
      if (feedOpen)
        throw new StoreError('store_write_failed', 'a feed transaction is already open');
      feedOpen = true;
      const counts = emptyCounts();
      let decide!: (close: (() => void) | undefined) => void;
      const decided = new Promise<(() => void) | undefined>((resolve) => {
        decide = resolve;
      });
      let open = true;
      // A write transaction that stays open across the poll's awaits: lmdb commits it when the
      // callback's promise resolves and aborts it on ABORT. Readers never wait for it, and
      // no other process may write meanwhile (the writer lock).
      const done = Promise.resolve(
        root.transactionSync(async () => {
          const close = await decided;
          if (close === undefined) return ABORT;
          close();
          return counts;
        }),
      ).finally(() => {
        feedOpen = false;
      });
      done.catch(() => {});
      const ensureOpen = (): void => {
        if (!open)
          throw new StoreError('store_write_failed', 'the feed transaction is already closed');
      };
      const commitWith = async (close: () => void): Promise<ApplyCounts> => {
        ensureOpen();
        open = false;
        decide(close);
        try {
          await done;
        } catch (cause) {
          throw new StoreError(
            'store_write_failed',
            `committing the feed failed: ${describeCause(cause)}`,
            { cause },
          );
        }
        return { ...counts };
      };
      return {
        upsert(record) {
          ensureOpen();
          let change: RecordChange;
          try {
            change = upsert(record);
          } catch (cause) {
            if (cause instanceof StoreError) throw cause;
            throw new StoreError(
              'store_write_failed',
              `writing an event failed: ${describeCause(cause)}`,
              { cause },
            );
          }
          counts[change]++;
          return change;
        },
        settle: () => Promise.resolve(),
        commit: (commit) => commitWith(() => finish(counts, commit)),
        commitReplicated: (commit) => commitWith(() => finishReplicated(commit)),
        async abort() {
          if (!open) return;
          open = false;
          decide(undefined);
          await done.catch(() => {});
        },
      };
    },

    recordPoll(outcome) {
      return write('recording the poll', () => {
        const next = nextState(view.state(), outcome);
        meta.putSync(STATE_KEY, next);
        return next;
      });
    },

    recordReplicated(commit) {
      write('recording the replicated state', () => finishReplicated(commit));
    },

    cluster: () => (meta.get(CLUSTER_KEY) as ClusterPosition | undefined) ?? null,

    writeReplicationStatus: (status) => writeReplicationStatus(env.path, status),

    *records() {
      for (const { key, value } of events.getRange({})) {
        const summary = summaryBytes(value).toString('utf8');
        yield { id: key[1], startsAt: key[0], endsAt: decodeEnd(value), summary };
      }
    },

    lastTransactionId: () => (root.getStats() as { lastTxnId: number }).lastTxnId,

    async close() {
      try {
        view.endScans();
        await root.close();
      } finally {
        lock.release();
      }
    },
  };
}
