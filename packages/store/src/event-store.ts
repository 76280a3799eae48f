import { type EventRecord, EventRecordSchema, type QueryWindow } from '@tessera/core';
import { ABORT, type Database, open, type RootDatabase } from 'lmdb';
import {
  decodeEnd,
  EVENTS_DB,
  type EventKey,
  encodeEventValue,
  eventKey,
  IDS_DB,
  type IdEntry,
  META_DB,
  STATE_KEY,
  summaryBytes,
  VERSION_KEY,
  valueDigest,
} from './layout.js';
import { StoreError } from './store-error.js';
import {
  type ApplyCounts,
  type FeedValidators,
  INITIAL_STATE,
  type PollOutcome,
  type StoreState,
  StoreStateSchema,
} from './store-state.js';

export interface OpenStoreOptions {
  /** Directory of the LMDB environment; created if missing. */
  path: string;
  /** Upper bound of the memory map, and so of the data size. */
  mapSize?: number;
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

function emptyCounts(): ApplyCounts {
  return { inserted: 0, updated: 0, moved: 0, unchanged: 0 };
}

export interface EventStore {
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
  /** Pre-serialized summaries of the events in the window, in start order. */
  scan(window: QueryWindow): IterableIterator<Buffer>;
  /** Increases whenever an event changes; 0 for an empty store. */
  version(): number;
  state(): StoreState;
  count(): number;
  /** LMDB's last committed transaction id: lets tests and diagnostics see whether a write happened. */
  lastTransactionId(): number;
  close(): Promise<void>;
}

export function openStore(options: OpenStoreOptions): EventStore {
  let root: RootDatabase;
  let events: Database<Buffer, EventKey>;
  let ids: Database<IdEntry, string>;
  let meta: Database<unknown, string>;
  try {
    root = open({
      path: options.path,
      maxDbs: 4,
      mapSize: options.mapSize ?? 8 * 1024 ** 3,
      // Commit returns only once the data is flushed: a feed reported as applied survives a
      // crash or power loss. One fsync per feed is cheap next to fetching the feed.
      overlappingSync: false,
      noSync: false,
    });
    events = root.openDB<Buffer, EventKey>(EVENTS_DB, { encoding: 'binary' });
    ids = root.openDB<IdEntry, string>(IDS_DB, { encoding: 'msgpack' });
    meta = root.openDB<unknown, string>(META_DB, { encoding: 'msgpack' });
  } catch (cause) {
    throw new StoreError('store_unavailable', `cannot open the store at ${options.path}`, {
      cause,
    });
  }

  const readState = (): StoreState => {
    const raw = meta.get(STATE_KEY);
    return raw === undefined ? INITIAL_STATE : StoreStateSchema.parse(raw);
  };
  const readVersion = (): number => {
    const v = meta.get(VERSION_KEY);
    return typeof v === 'number' ? v : 0;
  };

  const classify = (record: EventRecord): RecordChange => {
    const current = ids.get(record.id);
    if (current === undefined) return 'inserted';
    if (current[0] !== record.startsAt) return 'moved';
    // The digest in `ids` answers "unchanged?" without reading the event itself: an unchanged
    // feed touches only the small ids pages, not every stored event.
    return current[1] === valueDigest(record) ? 'unchanged' : 'updated';
  };

  const write = <T>(what: string, fn: () => T): T => {
    try {
      return root.transactionSync(fn);
    } catch (cause) {
      if (cause instanceof StoreError) throw cause;
      throw new StoreError('store_write_failed', `${what} failed and was rolled back`, { cause });
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

  /** The state update that closes a feed's transaction; the version moves only on change. */
  const finish = (counts: ApplyCounts, commit: FeedCommit): void => {
    const changed = counts.inserted + counts.updated + counts.moved > 0;
    const previous = readState();
    if (changed) meta.putSync(VERSION_KEY, readVersion() + 1);
    meta.putSync(STATE_KEY, {
      ...previous,
      validators: commit.validators,
      lastAttemptAt: commit.at,
      lastSuccessAt: commit.at,
      lastChangeAt: changed ? commit.at : previous.lastChangeAt,
      lastErrorCode: null,
      lastErrorMessage: null,
      consecutiveFailures: 0,
      lastCounts: counts,
    } satisfies StoreState);
  };

  return {
    applyFeed(records, commit) {
      return write('applying the feed', () => {
        const counts = emptyCounts();
        for (const record of records) counts[upsert(record)]++;
        finish(counts, commit);
        return counts;
      });
    },

    beginFeed() {
      const counts = emptyCounts();
      let decide!: (commit: FeedCommit | undefined) => void;
      const decided = new Promise<FeedCommit | undefined>((resolve) => {
        decide = resolve;
      });
      let open = true;
      // A write transaction that stays open across the poll's awaits: lmdb commits it when the
      // callback's promise resolves and aborts it on ABORT. Only the ingestor writes, so holding
      // the writer lock for one poll delays no one; readers never wait for it.
      const done = Promise.resolve(
        root.transactionSync(async () => {
          const commit = await decided;
          if (commit === undefined) return ABORT;
          finish(counts, commit);
          return counts;
        }),
      );
      done.catch(() => {});
      const close = (): void => {
        if (!open)
          throw new StoreError('store_write_failed', 'the feed transaction is already closed');
        open = false;
      };
      return {
        upsert(record) {
          if (!open)
            throw new StoreError('store_write_failed', 'the feed transaction is already closed');
          const change = upsert(record);
          counts[change]++;
          return change;
        },
        async commit(commit) {
          close();
          decide(commit);
          try {
            await done;
          } catch (cause) {
            throw new StoreError('store_write_failed', 'committing the feed failed', { cause });
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
        const previous = readState();
        const next: StoreState = outcome.ok
          ? {
              ...previous,
              validators: outcome.validators ?? previous.validators,
              lastAttemptAt: outcome.at,
              lastSuccessAt: outcome.at,
              lastErrorCode: null,
              lastErrorMessage: null,
              consecutiveFailures: 0,
            }
          : {
              ...previous,
              lastAttemptAt: outcome.at,
              lastErrorCode: outcome.code,
              lastErrorMessage: outcome.message,
              consecutiveFailures: previous.consecutiveFailures + 1,
            };
        meta.putSync(STATE_KEY, next);
        return next;
      });
    },

    classify,

    *scan(window) {
      const start = window.startsAt === null ? undefined : [window.startsAt];
      // Whole milliseconds: keys starting at endsAt sort before [endsAt + 1].
      const end = window.endsAt === null ? undefined : [window.endsAt + 1];
      const limit = window.endsAt;
      for (const { value } of events.getRange({ start, end })) {
        if (limit !== null && decodeEnd(value) > limit) continue;
        yield summaryBytes(value);
      }
    },

    version: readVersion,
    state: readState,
    count: () => (events.getStats() as { entryCount: number }).entryCount,
    lastTransactionId: () => (root.getStats() as { lastTxnId: number }).lastTxnId,
    close: () => root.close(),
  };
}
