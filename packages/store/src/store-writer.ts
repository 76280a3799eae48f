import { mkdirSync } from 'node:fs';
import { type EventRecord, EventRecordSchema } from '@tessera/core';
import { ABORT } from 'lmdb';
import { type Environment, openForWriting, readHead, unavailable } from './environment.js';
import {
  encodeEventValue,
  eventKey,
  HEAD_KEY,
  type Head,
  type IdEntry,
  STATE_KEY,
  valueDigest,
} from './layout.js';
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

export interface FeedCommit {
  at: number;
  validators: FeedValidators;
}

export type RecordChange = 'inserted' | 'updated' | 'moved' | 'unchanged';

/**
 * One feed's write transaction, open while the feed streams in: records are written as they
 * arrive (no copy of the feed is held in memory) and become visible together at commit, or
 * never, on abort. Reads in this process see the uncommitted writes; other processes do not.
 */
export interface FeedWriter {
  upsert(record: EventRecord): RecordChange;
  /** Writes the state record and commits durably; resolves with the counts. */
  commit(commit: FeedCommit): Promise<ApplyCounts>;
  /** Discards everything written since beginFeed. */
  abort(): Promise<void>;
}

/** The one process that writes the store (the ingestor), holding its writer lock. */
export interface StoreWriter extends StoreView {
  /**
   * Applies one feed's upserts and the state update in a single durable transaction. Never
   * deletes an event. If anything throws midway (the records iterable included), the
   * transaction aborts and the store is exactly as before.
   */
  applyFeed(records: Iterable<EventRecord>, commit: FeedCommit): ApplyCounts;
  /**
   * Opens the transaction for one streamed feed. Only one may be open at a time, and no other
   * write (recordPoll, applyFeed) may be made until it is committed or aborted.
   */
  beginFeed(): FeedWriter;
  /** Records a poll that changed no event (unchanged feed, or failure): state only. */
  recordPoll(outcome: PollOutcome): StoreState;
  /** What applying this record would do, read outside any write transaction. */
  classify(record: EventRecord): RecordChange;
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

  /** The state record, and the version when an event changed: what closes a feed's transaction. */
  const finish = (counts: ApplyCounts, commit: FeedCommit): void => {
    if (changedAnything(counts)) {
      const head = readHead(env);
      meta.putSync(HEAD_KEY, { ...head, version: head.version + 1 } satisfies Head);
    }
    meta.putSync(STATE_KEY, nextState(view.state(), { ok: true, ...commit, counts }));
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
      let decide!: (commit: FeedCommit | undefined) => void;
      const decided = new Promise<FeedCommit | undefined>((resolve) => {
        decide = resolve;
      });
      let open = true;
      // A write transaction that stays open across the poll's awaits: lmdb commits it when the
      // callback's promise resolves and aborts it on ABORT. Readers never wait for it, and
      // no other process may write meanwhile (the writer lock).
      const done = Promise.resolve(
        root.transactionSync(async () => {
          const commit = await decided;
          if (commit === undefined) return ABORT;
          finish(counts, commit);
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
        async commit(commit) {
          ensureOpen();
          open = false;
          decide(commit);
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
        },
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

    lastTransactionId: () => (root.getStats() as { lastTxnId: number }).lastTxnId,

    async close() {
      try {
        await root.close();
      } finally {
        lock.release();
      }
    },
  };
}
