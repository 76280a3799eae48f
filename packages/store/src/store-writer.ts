import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type EventRecord, EventRecordSchema } from '@tessera/core';
import {
  ChangeRecorder,
  type ChangeRetention,
  ChangesAhead,
  DEFAULT_CHANGE_RETENTION,
  restartChangeLog,
} from './change-log.js';
import {
  computeDigests,
  type Environment,
  entryCount,
  openForWriting,
  readDigest,
  readFeedDigest,
  readFeedDigests,
  readHead,
  rewriteDigests,
  unavailable,
} from './environment.js';
import { BlocksAhead, beginBlocksUpdate, blocksCurrent, rebuildAllBlocks } from './event-blocks.js';
import { type FeedStage, openFeedStage, type StagedRecords } from './feed-stage.js';
import {
  DIGEST_KEY,
  type Digest,
  DigestSum,
  decodeRecord,
  digestDelta,
  EMPTY_DIGEST,
  type EncodedRecord,
  encodeRecord,
  eventKey,
  FEEDS_KEY,
  feedDigestKey,
  feedKey,
  feedOfEntry,
  HEAD_KEY,
  type Head,
  type IdEntry,
  idEntry,
  recordDigest,
  SOURCE_POSITION_KEY,
  STAGE_DIR,
  summaryBytes,
  UNATTRIBUTED_FEED,
  UNMIGRATED_FEED,
} from './layout.js';
import { describeCause, StoreError } from './store-error.js';
import {
  type ApplyCounts,
  appendRun,
  changedAnything,
  type FeedRecord,
  FeedRecordSchema,
  type FeedState,
  type FeedValidators,
  INITIAL_FEED_RECORD,
  nextFeedRecord,
  type PollOutcome,
  runOf,
} from './store-state.js';
import { type StoreView, viewOf } from './store-view.js';
import { acquireWriterLock, type WriterLock } from './writer-lock.js';

export interface OpenStoreWriterOptions {
  /** The store directory (DATA_DIR); created if missing. */
  path: string;
  /**
   * The id of the one feed a store of layout 3 or older holds (today's PROVIDER_ID): migrating
   * moves its state into that feed's record.
   */
  legacyFeed?: string;
  /** How much of the change log to keep (default: DEFAULT_CHANGE_RETENTION). */
  changeRetention?: ChangeRetention;
}

/** How a feed's own poll closes it: the version moves by one if an event changed. */
export interface PollCommit {
  /** When the poll began. */
  at: number;
  /** When it ended; absent: unknown. */
  endedAt?: number;
  validators: FeedValidators;
}

/**
 * Where this store stands in a source it copies from (a cluster's stream, say): the name the
 * source gives the content, and an opaque position the store keeps in the same transaction as
 * what it wrote (exactly-once across crashes) and hands back from `sourcePosition()`.
 */
export interface SourceMark {
  /** The store id from now on: the source's, so that every copy names its content alike. */
  storeId: string;
  position: unknown;
}

/** How a write copied from a source closes: the feed's state and version as the source says. */
export interface SourcedCommit extends SourceMark {
  state: FeedState;
  /** The version if an event changed; never lowers the current one. */
  version: number;
  /** The poll this write copies, added to the feed's runs (a copy of a whole feed has none). */
  run?: PollOutcome;
}

/** How one feed's write closes: the feed's own poll, or a copy of a source's write. */
export type FeedCommit = PollCommit | SourcedCommit;

function isSourced(commit: FeedCommit): commit is SourcedCommit {
  return 'storeId' in commit;
}

export type RecordChange = 'inserted' | 'updated' | 'moved' | 'unchanged';

/** What writing a record would do, and the record digests it would take out and put in. */
export interface RecordInspection {
  change: RecordChange;
  digest: Digest;
  /** The stored record it replaces (its key's start and its digest); undefined for a new one. */
  previous: IdEntry | undefined;
}

/** The one process that writes the store (the ingestor), holding its writer lock. */
export interface StoreWriter extends StoreView {
  /** What applying this record would do, against committed content (no write is ever open). */
  inspect(record: EventRecord): RecordInspection;
  /**
   * Applies one feed's upserts and closes the feed as `commit` says, in a single durable
   * transaction that never waits on anything (the records come from memory or a stage). Never
   * deletes an event. If anything throws midway (the records iterable included), the
   * transaction aborts and the store reads exactly as before. A large write whose records can
   * be read twice (a stage's) has its change entries written ahead, unread until it commits
   * (see ChangesAhead): its records are then read twice.
   */
  applyFeed(feed: string, records: Iterable<EventRecord>, commit: FeedCommit): ApplyCounts;
  recordPoll(feed: string, outcome: PollOutcome): FeedState;
  /**
   * The feeds the ingestor runs now, with their URLs as they may be shown (no credentials or
   * query values): a record for each, and the list that /feeds marks as configured. Feeds left
   * out keep their records and events.
   */
  configureFeeds(feeds: ReadonlyArray<{ id: string; url: string }>): void;
  /** Marks a feed paused or not (an operator's action, see FeedRecord.paused). */
  recordPaused(feed: string, paused: boolean): void;
  /** A new, empty stage of this store, closed with it or before (see feed-stage.ts). */
  openStage(name: string): FeedStage;
  /**
   * Removes every event of one feed in one transaction, with the source's new mark: a feed found
   * to differ from its source's is copied again from the source's start. The only way an event
   * is ever deleted.
   */
  emptyFeed(feed: string, mark: SourceMark): void;
  /**
   * Recomputes every digest from the events themselves (a scan: once at boot, not per write).
   * Where a stored one differs (the store was altered behind the writer's back), the stored
   * digests are repaired to describe what is really there, so that the next comparison with
   * another node tells the truth. Returns the feeds whose digest differed (`""`: unattributed).
   */
  verifyDigest(): { stored: Digest | null; actual: Digest; feeds: string[] };
  /** One feed's digest: the XOR of its events' record digests. */
  feedDigest(feed: string): Digest;
  /** The position of the last source mark written; null: the store never copied a source. */
  sourcePosition(): unknown;
  /** Every event of one feed as a record, from one snapshot (read at the first call to next). */
  feedRecords(feed: string): IterableIterator<EventRecord>;
  /** Every stored event as a record, in key order, from one snapshot (read at the first call to next). */
  records(): IterableIterator<EventRecord>;
  close(): Promise<void>;
}

/** What a feed's write will commit as: its version, and when its changes are recorded. */
interface WritePlan {
  version: number;
  now: number;
}

/**
 * What a large write from a stage writes before its own transaction, which would otherwise hold
 * all of it in memory as dirty pages until it commits (a 1 GB first ingest: ~26 MiB of change
 * entries, ~23 MiB of blocks): its change entries (ChangesAhead), read in the order the write
 * reads its records, and, into an empty store, its blocks (BlocksAhead), packed from the records
 * read in key order (a bucket sort through a scratch file: a first ingest's cost).
 */
interface WrittenAhead {
  records: Iterable<EventRecord>;
  changes?: ChangesAhead | undefined;
  blocks?: BlocksAhead | undefined;
}

/**
 * Writes of at least this many records from a stage are written ahead (see WrittenAhead): below
 * it, what they hold is a few MiB at most, not worth a second read and more transactions.
 */
const AHEAD_MIN_RECORDS = 16_384;
/** Summaries per transaction of an ahead pass. */
const AHEAD_CHUNK_BYTES = 4 * 1024 ** 2;

function rereadable(records: Iterable<EventRecord>): records is StagedRecords {
  const candidate = records as Partial<StagedRecords>;
  return typeof candidate.size === 'number' && typeof candidate.inKeyOrder === 'function';
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
    // Stages hold nothing of value once their process is gone, and may be torn (no fsync).
    rmSync(join(path, STAGE_DIR), { recursive: true, force: true });
  } catch (cause) {
    throw cause instanceof StoreError ? cause : unavailable(path, cause);
  }
  let env: Environment;
  try {
    env = openForWriting(path, options.legacyFeed ?? UNMIGRATED_FEED);
  } catch (cause) {
    lock.release();
    throw cause;
  }
  const writer = createWriter(env, lock, options.changeRetention ?? DEFAULT_CHANGE_RETENTION);
  environments.set(writer, env);
  return writer;
}

/** Each open writer's environment, for what only tests ask of it (see testing.ts). */
const environments = new WeakMap<StoreWriter, Environment>();

/**
 * LMDB's last committed transaction id: lets a test see whether, and how many, writes happened.
 * Not on the StoreWriter interface, which is what production code writes with.
 */
export function lastTransactionId(writer: StoreWriter): number {
  const env = environments.get(writer);
  if (env === undefined) throw new Error('not a writer opened by openStoreWriter');
  return (env.root.getStats() as { lastTxnId: number }).lastTxnId;
}

function createWriter(
  env: Environment,
  lock: WriterLock,
  changeRetention: ChangeRetention,
): StoreWriter {
  const { root, events, ids, meta } = env;
  const changesDb = env.changes!;
  const blockSources = { blocks: env.blocks!, eventsInPlace: env.eventsInPlace, meta };
  const view = viewOf(env);
  const stages = new Map<string, FeedStage>();

  /** What writing `record`, whose digest is `digest`, would do. */
  const inspectDigest = (record: EventRecord, digest: Digest): RecordInspection => {
    let current: IdEntry | undefined;
    try {
      current = ids.get(record.id);
    } catch (cause) {
      throw unavailable(env.path, cause, 'read');
    }
    if (current === undefined) return { change: 'inserted', digest, previous: undefined };
    // The digest in `ids` answers "unchanged?" without reading the event itself: an unchanged
    // feed touches only the small ids pages, not every stored event.
    const change =
      current[0] !== record.startsAt ? 'moved' : current[1] === digest ? 'unchanged' : 'updated';
    return { change, digest, previous: current };
  };
  const inspect = (record: EventRecord): RecordInspection =>
    inspectDigest(record, recordDigest(record));

  const write = <T>(what: string, fn: () => T): T => {
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

  /**
   * Rebuilds every block, in transactions of their own (each holding a bounded share of them),
   * when they are stale: a store left by a writer that kept none, or repaired digests. A failure
   * leaves them stale, which costs readers speed, not answers (they read event by event), and is
   * tried again at the next open.
   */
  const catchUpBlocks = (): void => {
    try {
      if (blocksCurrent(meta)) return;
      rebuildAllBlocks(blockSources, (fn) => write('rebuilding the blocks', fn));
    } catch {
      // Stale blocks are read past; see above.
    }
  };

  /**
   * Writes one feed's records in the current write transaction, skipping the unchanged ones, and
   * keeps the state digest and the feed's in step: each changed record's old digest out, its new
   * one in. `version` is the one this write will commit, recorded on the events it moves. An
   * unchanged record still unattributed (see layout.ts) is given its feed. Each record that
   * changes what is served is recorded in the change log, in the same transaction.
   */
  const upsertAll = (
    feed: string,
    records: Iterable<EventRecord>,
    plan: WritePlan & { ahead: WrittenAhead },
  ): ApplyCounts => {
    const { version } = plan;
    const counts = emptyCounts();
    const blocks = beginBlocksUpdate(blockSources);
    const digest = new DigestSum(readDigest(env) ?? EMPTY_DIGEST);
    const feedDigest = new DigestSum(readFeedDigest(env, feed));
    let unattributed: DigestSum | undefined;
    const changes = new ChangeRecorder(
      changesDb,
      meta,
      version,
      changeRetention,
      plan.now,
      plan.ahead.changes,
    );
    for (const record of records) {
      if (!EventRecordSchema.safeParse(record).success) {
        throw new StoreError('invalid_record', `refusing malformed record ${String(record?.id)}`);
      }
      const encoded = encodeRecord(record);
      const seen = inspectDigest(record, encoded.digest);
      counts[seen.change]++;
      const previous = seen.previous;
      const previousFeed = previous === undefined ? feed : feedOfEntry(previous);
      if (seen.change === 'unchanged' && previousFeed === feed) continue;
      if (seen.change === 'moved') {
        const old = eventKey(previous![0], record.id);
        events.removeSync(old);
        blocks.touch(old);
      }
      if (seen.change !== 'unchanged') {
        const key = eventKey(record.startsAt, record.id);
        events.putSync(key, encoded.value);
        blocks.touch(key);
        changes.add(feed, record, seen.digest);
      }
      const movedAt = seen.change === 'moved' ? version : previous?.[2];
      ids.putSync(record.id, idEntry(record.startsAt, seen.digest, movedAt, feed));
      if (previousFeed === feed) {
        const delta = digestDelta(previous?.[1], seen.digest);
        digest.fold(delta);
        feedDigest.fold(delta);
      } else {
        digest.toggle(previous?.[1], seen.digest);
        unattributed ??= new DigestSum(readFeedDigest(env, previousFeed));
        unattributed.toggle(previous?.[1]);
        feedDigest.toggle(seen.digest);
      }
    }
    // An unchanged feed writes no digest (only unattributed records moved in change them).
    if (changedAnything(counts) || unattributed !== undefined) {
      meta.putSync(DIGEST_KEY, digest.value());
      meta.putSync(feedDigestKey(feed), feedDigest.value());
    }
    if (unattributed !== undefined) {
      meta.putSync(feedDigestKey(UNATTRIBUTED_FEED), unattributed.value());
    }
    blocks.finish(plan.ahead.blocks);
    changes.finish();
    return counts;
  };

  /**
   * One pass of a write's ahead work over its records, in transactions of about
   * AHEAD_CHUNK_BYTES of summaries each: `first` opens the first, `last` closes the last. A
   * malformed record ends the pass early, without `last` (the write itself then fails, and what
   * was written ahead stays unread).
   */
  const passAhead = (
    what: string,
    records: Iterable<EventRecord>,
    step: {
      first?: () => void;
      each: (record: EventRecord, encoded: EncodedRecord) => void;
      last?: () => void;
    },
  ): void => {
    const pending = records[Symbol.iterator]();
    let next = pending.next();
    let first = true;
    try {
      while (next.done !== true) {
        write(what, () => {
          if (first) step.first?.();
          first = false;
          for (let bytes = 0; next.done !== true && bytes < AHEAD_CHUNK_BYTES; ) {
            const record = next.value;
            if (!EventRecordSchema.safeParse(record).success) {
              next = { done: true, value: undefined };
              return;
            }
            step.each(record, encodeRecord(record));
            bytes += record.summary.length;
            next = pending.next();
            if (next.done === true) step.last?.();
          }
        });
      }
    } finally {
      // A pass ended early leaves the records' reading open (a stage's key order, its scratch file).
      pending.return?.();
    }
  };

  /** A large write's work before its own transaction (see WrittenAhead). */
  const writeAhead = (
    feed: string,
    records: Iterable<EventRecord>,
    plan: WritePlan,
  ): WrittenAhead => {
    if (!rereadable(records) || records.size < AHEAD_MIN_RECORDS) return { records };
    const empty = entryCount(events) === 0;
    const blocks = empty ? new BlocksAhead(blockSources) : undefined;
    if (blocks !== undefined) {
      passAhead(`packing feed ${feed}'s blocks ahead`, records.inKeyOrder(), {
        first: () => blocks.begin(),
        each: (record, { value, digest }) =>
          blocks.add(
            eventKey(record.startsAt, record.id),
            record.endsAt,
            summaryBytes(value),
            digest,
          ),
        last: () => blocks.end(),
      });
    }
    const changes = ChangesAhead.begin(changesDb, meta, { feed, ...plan });
    if (changes !== undefined) {
      passAhead(`writing feed ${feed}'s changes ahead`, records, {
        each: (record, { digest }) => {
          if (inspectDigest(record, digest).change !== 'unchanged') {
            changes.add(record.summary, digest);
          }
        },
      });
    }
    return { records, changes, blocks };
  };

  const readRecord = (feed: string): FeedRecord => {
    const raw = meta.get(feedKey(feed));
    return raw === undefined ? INITIAL_FEED_RECORD : FeedRecordSchema.parse(raw);
  };

  /** What closes a feed's own poll: its record, and the version if an event changed. */
  const finishPoll = (feed: string, counts: ApplyCounts, commit: PollCommit): void => {
    if (changedAnything(counts)) {
      const head = readHead(env);
      meta.putSync(HEAD_KEY, { ...head, version: head.version + 1 } satisfies Head);
    }
    meta.putSync(feedKey(feed), nextFeedRecord(readRecord(feed), { ok: true, ...commit, counts }));
  };

  /** What closes a copy of a source's write: the source's mark and the feed's state, at once. */
  const finishSourced = (feed: string, counts: ApplyCounts, commit: SourcedCommit): void => {
    const head = readHead(env);
    meta.putSync(HEAD_KEY, {
      storeId: commit.storeId,
      // The version moves only with events written: a write that changed none names the same content.
      version: changedAnything(counts) ? Math.max(head.version, commit.version) : head.version,
    } satisfies Head);
    const record = readRecord(feed);
    meta.putSync(feedKey(feed), {
      ...record,
      state: commit.state,
      runs: commit.run === undefined ? record.runs : appendRun(record.runs, runOf(commit.run)),
      events: record.events + counts.inserted,
    } satisfies FeedRecord);
    meta.putSync(SOURCE_POSITION_KEY, commit.position);
  };

  // A store last written by a writer that kept no blocks (or whose rebuild failed) gets them now.
  catchUpBlocks();

  return {
    ...view,
    inspect,

    applyFeed(feed, records, commit) {
      const sourced = isSourced(commit);
      // The version this write commits: no other write can come between (one writer, and
      // nothing here waits), so the head read now is the one the transaction reads.
      const version = sourced ? commit.version : readHead(env).version + 1;
      const now = Date.now();
      const ahead = writeAhead(feed, records, { version, now });
      return write(`applying feed ${feed}`, () => {
        const counts = upsertAll(feed, ahead.records, { version, now, ahead });
        if (sourced) finishSourced(feed, counts, commit);
        else finishPoll(feed, counts, commit);
        return counts;
      });
    },

    recordPoll(feed, outcome) {
      return write(`recording a poll of feed ${feed}`, () => {
        const next = nextFeedRecord(readRecord(feed), outcome);
        meta.putSync(feedKey(feed), next);
        return next.state;
      });
    },

    configureFeeds(feeds) {
      write('configuring the feeds', () => {
        for (const { id, url } of feeds) meta.putSync(feedKey(id), { ...readRecord(id), url });
        meta.putSync(
          FEEDS_KEY,
          feeds.map((f) => f.id),
        );
      });
    },

    recordPaused(feed, paused) {
      write(`recording feed ${feed} ${paused ? 'paused' : 'resumed'}`, () => {
        meta.putSync(feedKey(feed), { ...readRecord(feed), paused } satisfies FeedRecord);
      });
    },

    openStage(name) {
      if (stages.has(name)) throw new StoreError('store_write_failed', `stage ${name} is open`);
      const stage = openFeedStage(env.path, name);
      stages.set(name, stage);
      // Closed before the store (a feed's loop stopped by a reload), its name is free again.
      return {
        ...stage,
        async close() {
          stages.delete(name);
          await stage.close();
        },
      };
    },

    emptyFeed(feed, mark) {
      write(`emptying feed ${feed}`, () => {
        const blocks = beginBlocksUpdate(blockSources);
        const digest = new DigestSum(readDigest(env) ?? EMPTY_DIGEST);
        for (const { key, value } of ids.getRange({})) {
          if (feedOfEntry(value) !== feed) continue;
          const removed = eventKey(value[0], key);
          events.removeSync(removed);
          blocks.touch(removed);
          ids.removeSync(key);
          digest.toggle(value[1]);
        }
        meta.putSync(DIGEST_KEY, digest.value());
        blocks.finish();
        meta.removeSync(feedDigestKey(feed));
        meta.putSync(feedKey(feed), { ...readRecord(feed), events: 0 } satisfies FeedRecord);
        meta.putSync(HEAD_KEY, { ...readHead(env), storeId: mark.storeId } satisfies Head);
        meta.putSync(SOURCE_POSITION_KEY, mark.position);
        restartChangeLog(meta);
      });
    },

    verifyDigest() {
      const stored = readDigest(env);
      const storedFeeds = readFeedDigests(env);
      const actual = computeDigests(env);
      const feeds = new Set(
        [...actual.feeds.keys(), ...storedFeeds.keys()].filter(
          (feed) => actual.feeds.get(feed) !== storedFeeds.get(feed),
        ),
      );
      if (stored !== actual.state || feeds.size > 0) {
        write('repairing the digests', () => rewriteDigests(env));
        // Altered behind the writer's back, the blocks may not hold what `events` does either:
        // the repaired digest is not their stamp, so they are rebuilt.
        catchUpBlocks();
      }
      return { stored, actual: actual.state, feeds: [...feeds] };
    },

    feedDigest: (feed) => readFeedDigest(env, feed),

    sourcePosition: () => meta.get(SOURCE_POSITION_KEY) ?? null,

    *feedRecords(feed) {
      for (const { key, value } of ids.getRange({})) {
        if (feedOfEntry(value) !== feed) continue;
        const stored = events.get(eventKey(value[0], key));
        if (stored !== undefined) yield decodeRecord(eventKey(value[0], key), stored);
      }
    },

    *records() {
      // decodeRecord copies out of the in-place value before the consumer reads anything else.
      for (const { key, value } of env.eventsInPlace.getRange({})) yield decodeRecord(key, value);
    },

    async close() {
      try {
        view.endScans();
        await Promise.allSettled([...stages.values()].map((stage) => stage.close()));
        stages.clear();
        await root.close();
      } finally {
        lock.release();
      }
    },
  };
}
