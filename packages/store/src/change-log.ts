import type { EventRecord } from '@tessera/core';
import type { Database, RootDatabase } from 'lmdb';
import { z } from 'zod';
import {
  CHANGES_DB,
  CHANGES_KEY,
  type ChangeEntry,
  type ChangeLogBounds,
  type ChangePosition,
  comparePositions,
  type Digest,
  endOfVersion,
  HEAD_KEY,
  type Head,
} from './layout.js';

export type ChangesDatabase = Database<ChangeEntry, ChangePosition>;

/** How much of the change log is kept: the last `changes`, or those younger than `ms`. */
export type ChangeRetention = { changes: number } | { ms: number };

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * CHANGES_RETENTION as written in configuration: a count of changes (`500000`) or a duration
 * (`90m`, `12h`, `7d`).
 */
export const ChangeRetentionSchema = z
  .string()
  .trim()
  .regex(/^\d+(?:[smhd])?$/, 'must be a count of changes (500000) or a duration (30m, 12h, 7d)')
  .transform((text, ctx): ChangeRetention => {
    const unit = text.at(-1) as keyof typeof UNIT_MS;
    const amount = Number(unit in UNIT_MS ? text.slice(0, -1) : text);
    if (!Number.isSafeInteger(amount) || amount < 1) {
      ctx.addIssue({ code: 'custom', message: 'must be at least 1' });
      return z.NEVER;
    }
    return unit in UNIT_MS ? { ms: amount * UNIT_MS[unit] } : { changes: amount };
  });

/**
 * A million changes: a few hundred bytes each, so the log stays well under the size of a large
 * store, while a consumer can be away for many polls of every feed before it has to list again.
 */
export const DEFAULT_CHANGE_RETENTION: ChangeRetention = { changes: 1_000_000 };

/** A change as the log holds it, with its position. */
export interface StoredChange {
  position: ChangePosition;
  feed: string;
  /** The event's served summary (JSON), as /search and /events/{id} serve it at that version. */
  summary: string;
}

/** What a consumer at a position may read next. */
export interface ChangeRead {
  /** The position is before the horizon: changes after it may be gone (list again). */
  expired: boolean;
  /** In log order, strictly after the position; empty when expired. */
  changes: StoredChange[];
}

export function openChangesDb(root: RootDatabase): ChangesDatabase {
  return root.openDB<ChangeEntry, ChangePosition>(CHANGES_DB, { encoding: 'msgpack' });
}

/** The log's bounds; a store that never had one begins it at its current version. */
export function readBounds(meta: Database<unknown, string>): ChangeLogBounds {
  const bounds = meta.get(CHANGES_KEY) as ChangeLogBounds | undefined;
  if (bounds !== undefined) return bounds;
  const here = endOfVersion((meta.get(HEAD_KEY) as Head | undefined)?.version ?? 0);
  return { horizon: here, last: here, count: 0 };
}

/**
 * At the writer's open, in its transaction: a log whose last change is not of the head's version
 * missed writes (made by a writer without a log), so it is declared to begin now.
 */
export function checkChangeLog(meta: Database<unknown, string>): void {
  const bounds = meta.get(CHANGES_KEY) as ChangeLogBounds | undefined;
  const version = (meta.get(HEAD_KEY) as Head).version;
  if (bounds !== undefined && bounds.last[0] === version) return;
  const here = endOfVersion(version);
  meta.putSync(CHANGES_KEY, {
    horizon: here,
    last: here,
    count: bounds?.count ?? 0,
  } satisfies ChangeLogBounds);
}

/**
 * A re-sync empties a feed and replays it from older batches, which the log does not record (it
 * only grows at its end): whoever followed this node before now may have seen what the re-sync
 * replaced, so they list again.
 */
export function restartChangeLog(meta: Database<unknown, string>): void {
  const bounds = readBounds(meta);
  const here = endOfVersion((meta.get(HEAD_KEY) as Head).version);
  meta.putSync(CHANGES_KEY, { ...bounds, horizon: here, last: here } satisfies ChangeLogBounds);
}

const DIGEST_BYTES = 16;

/**
 * A large write's change entries, written before the write itself, in transactions of their own
 * (the writer's), and the record digest of each, in log order. The write's own transaction then
 * skips each entry already there: a 1 GB first ingest's change log is ~26 MiB, which its one
 * transaction would otherwise hold in memory as dirty pages until it commits.
 *
 * Entries written ahead lie past the log's `last` until the write commits, and readers read no
 * further than `last` (`readChangesAfter`): a write that fails leaves them unread, and the next
 * write's transaction removes whatever lies past the `last` it began from (`finish`).
 */
export class ChangesAhead {
  #digests = Buffer.allocUnsafe(DIGEST_BYTES * 1024);
  #scratch = Buffer.allocUnsafe(DIGEST_BYTES);
  #count = 0;

  private constructor(
    private readonly db: ChangesDatabase,
    private readonly write: { feed: string; version: number; now: number },
  ) {}

  /** Undefined when the log will not record the write at `write.version` (a replay behind its end). */
  static begin(
    db: ChangesDatabase,
    meta: Database<unknown, string>,
    write: { feed: string; version: number; now: number },
  ): ChangesAhead | undefined {
    return write.version > readBounds(meta).last[0] ? new ChangesAhead(db, write) : undefined;
  }

  get version(): number {
    return this.write.version;
  }

  /** Writes the next change's entry, in the caller's write transaction. */
  add(summary: string, digest: Digest): void {
    const { feed, version, now } = this.write;
    this.db.putSync([version, this.#count], [feed, now, summary]);
    if ((this.#count + 1) * DIGEST_BYTES > this.#digests.length) {
      const larger = Buffer.allocUnsafe(2 * this.#digests.length);
      this.#digests.copy(larger);
      this.#digests = larger;
    }
    this.#digests.write(digest, this.#count * DIGEST_BYTES, DIGEST_BYTES, 'base64url');
    this.#count++;
  }

  /** Whether the entry at `seq` was written ahead for a record of this digest. */
  holds(seq: number, digest: Digest): boolean {
    if (seq >= this.#count) return false;
    this.#scratch.write(digest, 0, DIGEST_BYTES, 'base64url');
    const at = seq * DIGEST_BYTES;
    return this.#scratch.equals(this.#digests.subarray(at, at + DIGEST_BYTES));
  }
}

/**
 * The changes of one write, recorded in its transaction: `add` each record the write changed,
 * then `finish` once to write the bounds and compact the front of the log. Entries written
 * ahead (`ahead`) are not written again.
 */
export class ChangeRecorder {
  private readonly bounds: ChangeLogBounds;
  /** False for a write behind the log's end (a replay), which records nothing. */
  private readonly recording: boolean;
  private seq = 0;

  constructor(
    private readonly db: ChangesDatabase,
    private readonly meta: Database<unknown, string>,
    private readonly version: number,
    private readonly retention: ChangeRetention,
    private readonly now: number,
    private readonly ahead?: ChangesAhead,
  ) {
    this.bounds = readBounds(meta);
    this.recording = version > this.bounds.last[0];
  }

  add(feed: string, record: EventRecord, digest: Digest): void {
    if (!this.recording) return;
    const seq = this.seq++;
    if (this.ahead?.version === this.version && this.ahead.holds(seq, digest)) return;
    this.db.putSync([this.version, seq], [feed, this.now, record.summary]);
  }

  finish(): void {
    if (!this.recording) return;
    // Entries past the log's end that this write did not make its own: written ahead for a write
    // that failed, or ahead of this one beyond what it recorded.
    removeRange(this.db, [this.bounds.last[0], this.bounds.last[1] + 1], [this.version, 0]);
    removeRange(this.db, [this.version, this.seq], undefined);
    if (this.seq === 0) return;
    const bounds: ChangeLogBounds = {
      horizon: this.bounds.horizon,
      last: [this.version, this.seq - 1],
      count: this.bounds.count + this.seq,
    };
    compact(this.db, bounds, this.retention, this.now);
    this.meta.putSync(CHANGES_KEY, bounds);
  }
}

function removeRange(
  db: ChangesDatabase,
  start: ChangePosition,
  end: ChangePosition | undefined,
): void {
  for (const key of [...db.getKeys({ start, end })]) db.removeSync(key);
}

/** Removes changes from the front past the retention, moving the horizon over them (in place). */
function compact(
  db: ChangesDatabase,
  bounds: ChangeLogBounds,
  retention: ChangeRetention,
  now: number,
): void {
  const byCount = 'changes' in retention;
  const excess = byCount ? bounds.count - retention.changes : bounds.count;
  if (excess <= 0) return;
  const oldest = byCount ? Infinity : now - retention.ms;
  for (const { key, value } of db.getRange({ limit: excess })) {
    if (value[1] >= oldest) break;
    db.removeSync(key);
    bounds.horizon = key;
    bounds.count--;
  }
}

/**
 * Up to `limit` changes strictly after `after`, from one snapshot (the caller's synchronous read),
 * or `expired` if the log no longer reaches back to it.
 */
export function readChangesAfter(
  db: ChangesDatabase | undefined,
  meta: Database<unknown, string>,
  after: ChangePosition,
  limit: number,
): ChangeRead {
  const bounds = readBounds(meta);
  if (comparePositions(after, bounds.horizon) < 0) return { expired: true, changes: [] };
  const changes: StoredChange[] = [];
  if (db === undefined || comparePositions(after, bounds.last) >= 0) {
    return { expired: false, changes };
  }
  // Keys order as arrays of numbers; [v, seq + 1] is the first key after [v, seq].
  // No further than `last`: entries past it are written ahead of a write not yet committed.
  const end: ChangePosition = [bounds.last[0], bounds.last[1] + 1];
  for (const { key, value } of db.getRange({ start: [after[0], after[1] + 1], end, limit })) {
    changes.push({ position: key, feed: value[0], summary: value[2] });
  }
  return { expired: false, changes };
}
