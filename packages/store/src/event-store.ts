import { type EventRecord, EventRecordSchema, type QueryWindow } from '@tessera/core';
import { type Database, open, type RootDatabase } from 'lmdb';
import {
  decodeEnd,
  EVENTS_DB,
  type EventKey,
  encodeEventValue,
  eventKey,
  IDS_DB,
  META_DB,
  STATE_KEY,
  summaryBytes,
  VERSION_KEY,
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

export interface EventStore {
  /**
   * Applies one feed's upserts and the state update in a single durable transaction. Never
   * deletes an event. If anything throws midway (the records iterable included), the
   * transaction aborts and the store is exactly as before.
   */
  applyFeed(records: Iterable<EventRecord>, commit: FeedCommit): ApplyCounts;
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
  let ids: Database<number, string>;
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
    ids = root.openDB<number, string>(IDS_DB, { encoding: 'msgpack' });
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
    if (current !== record.startsAt) return 'moved';
    const stored = events.getBinary(eventKey(current, record.id));
    if (stored === undefined) return 'inserted';
    const wanted = encodeEventValue(record.endsAt, record.summary);
    return wanted.equals(stored) ? 'unchanged' : 'updated';
  };

  const write = <T>(what: string, fn: () => T): T => {
    try {
      return root.transactionSync(fn);
    } catch (cause) {
      if (cause instanceof StoreError) throw cause;
      throw new StoreError('store_write_failed', `${what} failed and was rolled back`, { cause });
    }
  };

  return {
    applyFeed(records, commit) {
      return write('applying the feed', () => {
        const counts: ApplyCounts = { inserted: 0, updated: 0, moved: 0, unchanged: 0 };
        for (const record of records) {
          const checked = EventRecordSchema.safeParse(record);
          if (!checked.success) {
            throw new StoreError(
              'invalid_record',
              `refusing malformed record ${String(record?.id)}`,
            );
          }
          const change = classify(record);
          counts[change]++;
          if (change === 'unchanged') continue;
          if (change === 'moved') {
            const previous = ids.get(record.id);
            if (previous !== undefined) events.removeSync(eventKey(previous, record.id));
          }
          events.putSync(
            eventKey(record.startsAt, record.id),
            encodeEventValue(record.endsAt, record.summary),
          );
          ids.putSync(record.id, record.startsAt);
        }
        const changed = counts.inserted + counts.updated + counts.moved > 0;
        const previous = readState();
        if (changed) meta.putSync(VERSION_KEY, readVersion() + 1);
        const next: StoreState = {
          ...previous,
          validators: commit.validators,
          lastAttemptAt: commit.at,
          lastSuccessAt: commit.at,
          lastChangeAt: changed ? commit.at : previous.lastChangeAt,
          lastErrorCode: null,
          lastErrorMessage: null,
          consecutiveFailures: 0,
          lastCounts: counts,
        };
        meta.putSync(STATE_KEY, next);
        return counts;
      });
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
