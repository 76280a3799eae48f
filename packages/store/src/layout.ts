import { hash } from 'node:crypto';
import type { EventRecord } from '@tessera/core';

/**
 * The LMDB layout, in one place. One environment (a directory, `DATA_DIR`: lmdb-js is always told
 * so, `noSubdir: false`, because it would otherwise guess "a file" from a dot in the name) holds
 * five named databases:
 *
 * | db       | key                         | value                                              |
 * |----------|-----------------------------|----------------------------------------------------|
 * | `events` | `[startsAt, id]`            | 8 bytes: endsAt (float64 LE), then the EventSummary JSON (UTF-8) |
 * | `ids`    | `id`                        | `[startsAt, digest, movedAt, feed]`: the event's current key, its record digest, the version at which its key last changed (null: never), and the feed it belongs to |
 * | `changes`| `[version, seq]`            | `[feed, at, summary]`: a change to what is served (see below) |
 * | `blocks` | the key of its first event  | up to 64 consecutive events packed: what a window's scan copies in runs (event-blocks.ts) |
 * | `meta`   | see below                   | msgpack                                            |
 *
 * `meta` keys:
 *
 * | key      | value                                                                          |
 * |----------|--------------------------------------------------------------------------------|
 * | `layout` | `LAYOUT_VERSION` of the code that created the store; any other value is refused |
 * | `head`   | `{ storeId, version }`: what names the content (ETags are derived from it)     |
 * | `feed/<id>` | FeedRecord of feed `<id>`: its poll state (freshness, validators), its last runs, |
 * |          | its event count and (redacted) URL; one record per feed, so a feed is a record, not code |
 * | `feeds`  | the ids of the feeds the ingestor was last started with (the others are kept, unconfigured) |
 * | `digest` | the state digest: XOR of every event's record digest (see below)               |
 * | `digest/<id>` | feed `<id>`'s digest: the same XOR over that feed's events only (absent: none) |
 * | `changes` | `{ horizon, last, count }` of the change log (absent: a store that had none yet) |
 * | `blocks` | the state digest `blocks` was last rebuilt to: the blocks are read only while it is `digest` |
 * | `replicated` | cluster mode only: where the store stands in what it replicates, opaque to the store |
 * |          | (the replication package's), written in the same transaction as each write it describes |
 *
 * `storeId` is random, made once with the store (in cluster mode, the cluster's dataset id), so
 * that a recreated or restored store never reuses an ETag for other content. `version` increases
 * with every write that changes an event.
 *
 * `events` keys use lmdb's ordered-binary encoding: arrays order element by element, numbers
 * numerically, so a range scan walks events in start order and the id breaks ties between events
 * starting at the same instant. Instants are whole milliseconds. The value carries the end instant
 * in front of the pre-serialized JSON so that the end bound is checked without parsing, and the
 * JSON is served by copying bytes.
 *
 * `ids` exists so that an event whose start changes moves to its new key instead of leaving a
 * stale copy at the old one, and so that "is this record unchanged?" is answered from the small
 * ids pages without reading the event. A record digest is SHA-256 over the id, the start and the
 * stored value, truncated to 128 bits. `movedAt` is the version of the write that last moved the
 * event to another key (absent: not moved since the store had this field, which layout 3 gained
 * without a version bump, since readers of either shape only read the first two elements): a page
 * of /search served after a write leaves out events that moved since its first page, so that no
 * event is returned twice (see the API's page cursor).
 *
 * The state digest is the XOR of every stored event's record digest: order-independent, so the
 * same content gives the same digest on any node whatever order it was written in, and kept up
 * to date in the same transaction as each write at O(changed records) (old digest out, new in).
 * Each feed's events have a digest of their own, kept the same way: in a cluster every feed has
 * its own leader, and only a feed's digest is something its leader can predict while the other
 * leaders write. Nodes of a cluster compare them after every batch; `verifyDigest` recomputes
 * them from `events` (the feed of each from `ids`).
 *
 * What a reader sees, at every moment: the content of the last committed transaction, whole.
 * Each feed is received and parsed into a stage of its own (below) while no write transaction is
 * open; it is then applied in one synchronous transaction that never waits on the network,
 * together with its feed record, the version and the digest: a reader sees all of a feed's
 * poll or none of it, and the other feeds as their last applies left them. Feeds never wait for
 * each other's downloads; an apply waits at most for another feed's apply (one process, one
 * writer, synchronous transactions).
 *
 * In cluster mode `storeId` is the cluster's dataset id and `version` the stream sequence of the
 * last batch that changed an event (a replicated write never lowers it), so that every node names
 * the same content alike.
 *
 * The change log (`changes`) is what a consumer follows instead of re-reading /search: every
 * event a write inserts, updates or moves is recorded in that write's transaction under
 * `[version, seq]`, the version the write commits and the record's place among that write's
 * changes. In cluster mode the version is the stream sequence of the batch, and every node applies
 * the same batches to the same content, so a position names the same change on every node. The
 * log only ever grows at its end: a write whose version is not past the log's `last` (a re-sync
 * replaying older batches) records nothing. Retention compacts it from the front; `horizon` is the
 * position of the last change removed (or the point before which changes were never recorded),
 * and a consumer whose position is before it may have missed changes. `[v, END_OF_VERSION]` is
 * the end of version v: where a snapshot of that version stands. The writer checks at every open
 * that `last` names the head's version; a store written meanwhile by a writer that kept no log
 * (an older Tessera) gets its horizon moved to now, so that no consumer silently misses what that
 * writer did. Adding the log needed no layout change: older readers never open `changes`.
 *
 * `blocks` repeats `events` packed in runs (see event-blocks.ts), kept by every write that changes
 * `events`, in its transaction, and stamped (`meta` `blocks`) with the state digest it leaves. A
 * reader uses the blocks only while the stamp equals the snapshot's digest, and a writer rebuilds
 * them all at its open when it does not: adding them needed no layout change, since a writer that
 * keeps no blocks (an older Tessera) moves the digest away from the stamp with its first change.
 *
 * Beside the environment, `stage/<name>/` holds stages (no fsync) where a feed's records wait
 * until the whole document proved sound: `records`, a plain file they are appended to, and
 * `index/`, an LMDB environment of id → the offset of its last occurrence (which wins). They are
 * deleted whenever the writer opens: nothing in them outlives a process.
 *
 * Beside the environment, `writer.lock` is held (flock) by the one process allowed to write. In
 * cluster mode the directory also holds `replication.json`, which is not the store's: the
 * ingestor's view of the cluster, written and read by `@tessera/replication`'s status module.
 *
 * Layout history: 1 had no `layout`, `head` or store id (a `version` key instead); 2 had
 * value-only digests in `ids` and no state digest (the digests are recomputed when migrated); 3
 * had one feed, its state in a `state` key (moved to `feed/<id>` when migrated, `<id>` the feed
 * id the ingestor names as the old store's, today's PROVIDER_ID: its events already carry it);
 * 4 had no feed in `ids` entries, nor feed digests, and kept the cluster position under `cluster`
 * (migrating gives each event the feed of its store if the store had one feed, and otherwise the
 * unattributed feed `""` until its feed next delivers it; the position moves to `replicated`);
 * 5 is this. 2, 3 and 4 are migrated when the writer opens them, in one transaction.
 */
export const LAYOUT_VERSION = 5;
/** Layouts the writer migrates to LAYOUT_VERSION in place, and readers read meanwhile. */
export const MIGRATABLE_LAYOUTS: readonly number[] = [2, 3, 4];

export const EVENTS_DB = 'events';
export const IDS_DB = 'ids';
export const META_DB = 'meta';
export const CHANGES_DB = 'changes';
export const BLOCKS_DB = 'blocks';
/** The meta key of the state digest the blocks were last rebuilt to (see event-blocks.ts). */
export const BLOCKS_KEY = 'blocks';
/** The meta key of the change log's bounds (ChangeLogBounds). */
export const CHANGES_KEY = 'changes';
export const LAYOUT_KEY = 'layout';
export const HEAD_KEY = 'head';
/** Layouts 1–3: the one feed's state (see `feed/<id>`). */
export const STATE_KEY = 'state';
export const FEEDS_KEY = 'feeds';
const FEED_KEY_PREFIX = 'feed/';
/** The meta key of a feed's record. */
export function feedKey(id: string): string {
  return `${FEED_KEY_PREFIX}${id}`;
}
/** The range of meta keys holding feed records ('/' + 1 is '0'). */
export const FEED_KEYS = { start: FEED_KEY_PREFIX, end: 'feed0' } as const;
export function feedIdOf(key: string): string {
  return key.slice(FEED_KEY_PREFIX.length);
}
/** What a reader calls the one feed of a store of layout 3 or older, until the writer migrates it. */
export const UNMIGRATED_FEED = 'default';
/** Layout 4: where a cluster node's position was kept (now under SOURCE_POSITION_KEY). */
export const LAYOUT_4_CLUSTER_KEY = 'cluster';
/** A source mark's position (see SourceMark). The name is part of the layout: renaming it would need a migration. */
export const SOURCE_POSITION_KEY = 'replicated';
export const DIGEST_KEY = 'digest';
/** The meta key of a feed's digest. */
export function feedDigestKey(id: string): string {
  return `${DIGEST_KEY}/${id}`;
}
/** The feed of events whose feed a layout-4 store of several feeds did not record. */
export const UNATTRIBUTED_FEED = '';
/** The meta key that layout 1 used for the version: its presence marks a layout-1 store. */
export const LAYOUT_1_VERSION_KEY = 'version';

/** The file LMDB keeps its data in, inside the environment directory. */
export const DATA_FILE = 'data.mdb';
export const WRITER_LOCK_FILE = 'writer.lock';
export const STAGE_DIR = 'stage';

/**
 * Reader slots in LMDB's lock file, shared by every process that opens the store. The value is
 * fixed by whichever process initializes the lock file, so every process passes this same
 * constant. Each API process holds one slot for its current snapshot plus one per result it is
 * streaming (bounded per process, see the API's streaming limit); the ingestor a few. 1024 slots
 * (64 KiB of lock file) leave room for 64 API workers streaming at their limit, the ingestor and
 * tools, with headroom.
 */
export const MAX_READERS = 1024;

/** Environment options every process uses, reader or writer. */
export const ENVIRONMENT_OPTIONS = {
  noSubdir: false,
  maxDbs: 5,
  maxReaders: MAX_READERS,
  // Upper bound of the memory map, and so of the data size; reserved address space, not memory.
  mapSize: 8 * 1024 ** 3,
} as const;

export type EventKey = [startsAt: number, id: string];

/** A place in the change log: after the change at `seq` of the write that committed `version`. */
export type ChangePosition = [version: number, seq: number];
/** The seq of "every change of this version": a snapshot of a version stands there. */
export const END_OF_VERSION = 0xffff_ffff;
/** A `changes` value: the feed, when it was recorded (epoch ms), the served summary. */
export type ChangeEntry = [feed: string, at: number, summary: string];

/** The change log's bounds, kept in `meta` under CHANGES_KEY, written with every change. */
export interface ChangeLogBounds {
  /** Positions before this one may have had changes that are gone (compacted, or never recorded). */
  horizon: ChangePosition;
  /** The position of the last change recorded, or the end of the version the log began at. */
  last: ChangePosition;
  /** How many changes the log holds. */
  count: number;
}

/** Orders two change positions (negative: a before b). */
export function comparePositions(a: ChangePosition, b: ChangePosition): number {
  return a[0] - b[0] || a[1] - b[1];
}

/** The position a snapshot of `version` stands at: after every change of that version. */
export function endOfVersion(version: number): ChangePosition {
  return [version, END_OF_VERSION];
}

export const END_PREFIX_BYTES = 8;

/** Layouts 3 and 4 wrote the first two or three elements; readers read no further than movedAt. */
export type IdEntry = [startsAt: number, digest: string, movedAt?: number | null, feed?: string];

export function idEntry(
  startsAt: number,
  digest: Digest,
  movedAt: number | null | undefined,
  feed: string,
): IdEntry {
  return [startsAt, digest, movedAt ?? null, feed];
}

/** The feed an entry belongs to (an entry written before layout 5: unattributed). */
export function feedOfEntry(entry: IdEntry): string {
  return entry[3] ?? UNATTRIBUTED_FEED;
}

export interface Head {
  storeId: string;
  version: number;
}

/** 128 bits, base64url: a record digest, and the state digest (the XOR of them all). */
export type Digest = string;

/** The state digest of an empty store. */
export const EMPTY_DIGEST: Digest = Buffer.alloc(16).toString('base64url');

/** A record's digest, and the value `events` stores for it (the digest covers it). */
export interface EncodedRecord {
  digest: Digest;
  value: Buffer;
}

/**
 * 128 bits of SHA-256 over the id, the start and exactly what `events` stores for the record,
 * with that value: both come from one buffer (the value is its tail), hashed in one call. A
 * record costs an apply one allocation and one native call here instead of a Hash object, its
 * two updates and a second encoding of the value for the put.
 */
export function encodeRecord(record: {
  id: string;
  startsAt: number;
  endsAt: number;
  summary: string;
}): EncodedRecord {
  const prefix = `${record.id}\u0000${record.startsAt}\u0000`;
  const prefixBytes = Buffer.byteLength(prefix, 'utf8');
  const bytes = Buffer.allocUnsafe(prefixBytes + eventValueBytes(record.summary));
  bytes.write(prefix, 0, 'utf8');
  writeEventValue(bytes, prefixBytes, record.endsAt, record.summary);
  return {
    digest: hash('sha256', bytes, 'base64url').slice(0, 22),
    value: bytes.subarray(prefixBytes),
  };
}

/** 128 bits of SHA-256 over the id, the start and exactly what `events` stores for the record. */
export function recordDigest(record: {
  id: string;
  startsAt: number;
  endsAt: number;
  summary: string;
}): Digest {
  return encodeRecord(record).digest;
}

/**
 * A state digest being computed: the XOR of record digests, in place (adding a record's digest
 * and taking it out are the same operation), encoded once at the end.
 */
export class DigestSum {
  private readonly bytes: Buffer;

  constructor(start: Digest = EMPTY_DIGEST) {
    this.bytes = Buffer.from(start, 'base64url');
  }

  /** Folds digests in (or out); undefined ones (no previous record) are skipped. */
  toggle(...digests: Array<Digest | undefined>): this {
    for (const d of digests) {
      if (d !== undefined) this.fold(Buffer.from(d, 'base64url'));
    }
    return this;
  }

  /** Folds in 16 raw bytes: a digest, or several already folded together (see digestDelta). */
  fold(bytes: Uint8Array): this {
    xorInto(this.bytes, bytes);
    return this;
  }

  value(): Digest {
    return this.bytes.toString('base64url');
  }
}

/**
 * What replacing digest `from` (undefined: no record before) by `to` does to a sum, as 16 raw
 * bytes: an apply folds it into the state's sum and the feed's, decoding each digest once.
 */
export function digestDelta(from: Digest | undefined, to: Digest): Buffer {
  const delta = Buffer.from(to, 'base64url');
  if (from !== undefined) xorInto(delta, Buffer.from(from, 'base64url'));
  return delta;
}

/** XORs a digest's 16 bytes into `target`'s, in place. */
function xorInto(target: Uint8Array, source: Uint8Array): void {
  for (let i = 0; i < 16; i++) target[i] = (target[i] ?? 0) ^ (source[i] ?? 0);
}

export function eventKey(startsAt: number, id: string): EventKey {
  return [startsAt, id];
}

export function encodeEventValue(endsAt: number, summary: string): Buffer {
  const value = Buffer.allocUnsafe(eventValueBytes(summary));
  writeEventValue(value, 0, endsAt, summary);
  return value;
}

/** The size of an `events` value: the end instant, then the summary's UTF-8. */
function eventValueBytes(summary: string): number {
  return END_PREFIX_BYTES + Buffer.byteLength(summary, 'utf8');
}

/** Writes an `events` value into `target` at `at` (eventValueBytes long). */
function writeEventValue(target: Buffer, at: number, endsAt: number, summary: string): void {
  target.writeDoubleLE(endsAt, at);
  target.write(summary, at + END_PREFIX_BYTES, 'utf8');
}

export function decodeEnd(value: Uint8Array): number {
  return Buffer.from(value.buffer, value.byteOffset, END_PREFIX_BYTES).readDoubleLE(0);
}

export function summaryBytes(value: Buffer): Buffer {
  return value.subarray(END_PREFIX_BYTES);
}

/** An `events` entry back as the record it was written from. */
export function decodeRecord(key: EventKey, value: Buffer): EventRecord {
  return {
    id: key[1],
    startsAt: key[0],
    endsAt: decodeEnd(value),
    summary: summaryBytes(value).toString('utf8'),
  };
}
