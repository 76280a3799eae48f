import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Database, type DatabaseOptions, open, type RootDatabase } from 'lmdb';
import { type ChangesDatabase, checkChangeLog, openChangesDb } from './change-log.js';
import { type BlocksDatabase, openBlocksDb } from './event-blocks.js';
import { IN_PLACE_ENCODER } from './in-place-encoder.js';
import {
  BLOCKS_DB,
  CHANGES_DB,
  DATA_FILE,
  DIGEST_KEY,
  type Digest,
  DigestSum,
  decodeRecord,
  EMPTY_DIGEST,
  ENVIRONMENT_OPTIONS,
  EVENTS_DB,
  type EventKey,
  eventKey,
  FEED_KEYS,
  feedDigestKey,
  feedIdOf,
  feedKey,
  feedOfEntry,
  HEAD_KEY,
  type Head,
  IDS_DB,
  type IdEntry,
  idEntry,
  LAYOUT_1_VERSION_KEY,
  LAYOUT_4_CLUSTER_KEY,
  LAYOUT_KEY,
  LAYOUT_VERSION,
  META_DB,
  MIGRATABLE_LAYOUTS,
  recordDigest,
  SOURCE_POSITION_KEY,
  STATE_KEY,
  UNATTRIBUTED_FEED,
} from './layout.js';
import { describeCause, StoreError } from './store-error.js';
import { FeedRecordSchema, FeedStateSchema, INITIAL_FEED_RECORD } from './store-state.js';

/** The open LMDB environment and its databases. */
export interface Environment {
  readonly path: string;
  readonly root: RootDatabase;
  readonly events: Database<Buffer, EventKey>;
  /**
   * The same `events` database, each value handed out in place: a view of lmdb-js's shared read
   * buffer, valid only until the next read of the environment, instead of a copy in an
   * ArrayBuffer of its own (see in-place-encoder.ts). Whatever reads through it copies out what it keeps before its next read: a scan
   * the summary (pooled), a walk over every event the decoded record (decodeRecord).
   */
  readonly eventsInPlace: Database<Buffer, EventKey>;
  readonly ids: Database<IdEntry, string>;
  readonly meta: Database<unknown, string>;
  /**
   * The change log; undefined for a reader of a store whose writer has not created it yet (see
   * changesOf).
   */
  changes: ChangesDatabase | undefined;
  /**
   * Events packed in runs (event-blocks.ts); undefined for a reader of a store whose writer has
   * not created them yet (see blocksOf).
   */
  blocks: BlocksDatabase | undefined;
}

export function unavailable(path: string, cause: unknown, doing = 'open'): StoreError {
  return new StoreError(
    'store_unavailable',
    `cannot ${doing} the store at ${path}: ${describeCause(cause)}`,
    { cause },
  );
}

function openRoot(path: string, readOnly: boolean): RootDatabase {
  try {
    return open({
      path,
      ...ENVIRONMENT_OPTIONS,
      readOnly,
      // Commit returns only once the data is flushed: a feed reported as applied survives a
      // crash or power loss. One fsync per feed is cheap next to fetching the feed.
      overlappingSync: false,
      noSync: false,
    });
  } catch (cause) {
    throw unavailable(path, cause);
  }
}

function openDatabases(path: string, root: RootDatabase): Environment {
  return {
    path,
    root,
    events: root.openDB<Buffer, EventKey>(EVENTS_DB, { encoding: 'binary' }),
    // lmdb-js honours `encoder` on a named database as on the root; its typings list it on the root only.
    eventsInPlace: root.openDB<Buffer, EventKey>(EVENTS_DB, {
      encoder: IN_PLACE_ENCODER,
    } as DatabaseOptions),
    ids: root.openDB<IdEntry, string>(IDS_DB, { encoding: 'msgpack' }),
    meta: root.openDB<unknown, string>(META_DB, { encoding: 'msgpack' }),
    changes: undefined,
    blocks: undefined,
  };
}

/**
 * The change log of an environment. A reader opened before the writer created it (a store of an
 * older Tessera, upgraded while the API ran) opens it once it exists (see openOnceCreated).
 */
export function changesOf(env: Environment, quiet: boolean): ChangesDatabase | undefined {
  if (env.changes === undefined && openOnceCreated(env, CHANGES_DB, quiet)) {
    env.changes = openChangesDb(env.root);
  }
  return env.changes;
}

/** The blocks of an environment, opened by a reader once the writer created them, as the change log is. */
export function blocksOf(env: Environment, quiet: boolean): BlocksDatabase | undefined {
  if (env.blocks === undefined && openOnceCreated(env, BLOCKS_DB, quiet)) {
    env.blocks = openBlocksDb(env.root);
  }
  return env.blocks;
}

/**
 * Whether a reader may open the named database now: only while it holds no open scan (`quiet`),
 * since opening a database invalidates the read transaction that open cursors are using, and
 * only once it exists, since opening a named database that does not exist read-only fails.
 */
function openOnceCreated(env: Environment, name: string, quiet: boolean): boolean {
  return quiet && new Set(env.root.getKeys()).has(name);
}

/**
 * The layout version a store was written with: its `layout` record, or 1 for a store of the
 * first layout (which had none), or undefined for a store that was never initialized.
 */
function storedLayout(env: Environment): number | undefined {
  const layout = env.meta.get(LAYOUT_KEY);
  if (typeof layout === 'number') return layout;
  const layoutOne =
    env.meta.get(LAYOUT_1_VERSION_KEY) !== undefined ||
    env.meta.get(STATE_KEY) !== undefined ||
    env.events.getKeysCount() > 0;
  return layoutOne ? 1 : undefined;
}

function refuseLayout(path: string, found: number): StoreError {
  return new StoreError(
    'store_layout_mismatch',
    `the store at ${path} has layout version ${found} but this Tessera reads layout version ${LAYOUT_VERSION}: re-ingest into an empty DATA_DIR (move ${path} aside or delete it)`,
  );
}

async function closeQuietly(root: RootDatabase): Promise<void> {
  await root.close().catch(() => {});
}

/**
 * Opens an existing store without ever starting a write transaction, so that it never waits for
 * the writer. Returns undefined while there is no initialized store at the path yet (the writer
 * has not created it, or is creating it right now).
 */
export function openForReading(path: string): Environment | undefined {
  // lmdb would create the directory, and then fail on the missing data file.
  if (!existsSync(join(path, DATA_FILE))) return undefined;
  const root = openRoot(path, true);
  try {
    // Named databases are keys of the main database; until the writer's first commit they are
    // missing, and opening one read-only would fail.
    // (doesExist cannot be used: LMDB refuses a plain get of a named database's record.)
    const named = new Set(root.getKeys());
    if (![META_DB, EVENTS_DB, IDS_DB].every((name) => named.has(name))) {
      void closeQuietly(root);
      return undefined;
    }
    const env = openDatabases(path, root);
    // Opened here, with the others: opening a database later, between reads, invalidates the
    // read transaction that open scans and the reads of the same turn are using.
    if (named.has(CHANGES_DB)) env.changes = openChangesDb(root);
    if (named.has(BLOCKS_DB)) env.blocks = openBlocksDb(root);
    const layout = storedLayout(env);
    if (layout === undefined) {
      void closeQuietly(root);
      return undefined;
    }
    // An older layout the writer migrates in place reads the same meanwhile.
    if (layout !== LAYOUT_VERSION && !MIGRATABLE_LAYOUTS.includes(layout)) {
      throw refuseLayout(path, layout);
    }
    return env;
  } catch (cause) {
    void closeQuietly(root);
    throw cause instanceof StoreError ? cause : unavailable(path, cause);
  }
}

/**
 * Opens (creating if needed) the store for the one writer: the caller holds the writer lock.
 * `legacyFeed` names the one feed of a store of layout 3 or older, which migrating moves into a
 * feed record of that id.
 */
export function openForWriting(path: string, legacyFeed: string): Environment {
  const root = openRoot(path, false);
  try {
    return root.transactionSync(() => {
      const env = openDatabases(path, root);
      env.changes = openChangesDb(root);
      const layout = storedLayout(env);
      if (layout === undefined) {
        env.meta.putSync(LAYOUT_KEY, LAYOUT_VERSION);
        env.meta.putSync(HEAD_KEY, { storeId: newStoreId(), version: 0 } satisfies Head);
        env.meta.putSync(DIGEST_KEY, EMPTY_DIGEST);
      } else if (MIGRATABLE_LAYOUTS.includes(layout)) {
        moveStateToFeedRecord(env, legacyFeed);
        // Layouts 3 and older held one feed; a layout-4 store, the feeds of its records.
        rewriteDigests(env, layout <= 3 ? legacyFeed : soleFeedOf(env));
        const position = env.meta.get(LAYOUT_4_CLUSTER_KEY);
        if (position !== undefined) {
          env.meta.putSync(SOURCE_POSITION_KEY, position);
          env.meta.removeSync(LAYOUT_4_CLUSTER_KEY);
        }
        env.meta.putSync(LAYOUT_KEY, LAYOUT_VERSION);
      } else if (layout !== LAYOUT_VERSION) {
        throw refuseLayout(path, layout);
      }
      checkChangeLog(env.meta);
      // Created here; the writer rebuilds them if they are stale (see event-blocks.ts).
      env.blocks = openBlocksDb(root);
      return env;
    });
  } catch (cause) {
    void closeQuietly(root);
    throw cause instanceof StoreError ? cause : unavailable(path, cause);
  }
}

/** Layout 3 and older: the one feed's state becomes the record of feed `id`, with every event. */
function moveStateToFeedRecord(env: Environment, id: string): void {
  const state = env.meta.get(STATE_KEY);
  if (state === undefined) return;
  const events = entryCount(env.events);
  env.meta.putSync(feedKey(id), {
    ...INITIAL_FEED_RECORD,
    state: FeedStateSchema.parse(state),
    events,
  });
  env.meta.removeSync(STATE_KEY);
}

/** 96 random bits: enough that two stores never share an id, short enough for every ETag. */
function newStoreId(): string {
  return randomBytes(12).toString('base64url');
}

/**
 * The one feed a layout-4 store holds events of, if it is one (a store of one feed, or of one
 * feed that ever applied): its events are that feed's. Otherwise nothing tells, and they stay
 * unattributed until their feed delivers them again.
 */
function soleFeedOf(env: Environment): string {
  const feeds: Array<{ id: string; events: number }> = [];
  for (const { key, value } of env.meta.getRange(FEED_KEYS)) {
    feeds.push({ id: feedIdOf(key), events: FeedRecordSchema.parse(value).events });
  }
  const holding = feeds.filter((f) => f.events > 0);
  if (holding.length === 1) return holding[0]!.id;
  return feeds.length === 1 ? feeds[0]!.id : UNATTRIBUTED_FEED;
}

/**
 * Recomputes every `ids` entry (dropping those whose event is gone) and every digest, the state's and each feed's, from what `events`
 * holds, inside the caller's write transaction: the migration of older layouts (`fallbackFeed`
 * names the feed of entries that carry none), and the repair after a check found a stored digest
 * wrong. Returns the digests by feed.
 */
export function rewriteDigests(
  env: Environment,
  fallbackFeed: string = UNATTRIBUTED_FEED,
): Map<string, Digest> {
  const sums = new FeedDigestSums();
  for (const { key, value } of env.eventsInPlace.getRange({})) {
    const record = decodeRecord(key, value);
    const digest = recordDigest(record);
    const current = env.ids.get(record.id);
    const feed = current?.[3] ?? fallbackFeed;
    env.ids.putSync(record.id, idEntry(record.startsAt, digest, current?.[2], feed));
    sums.toggle(feed, digest);
  }
  // An entry whose event is gone (deleted behind the writer) describes nothing.
  for (const { key, value } of env.ids.getRange({})) {
    if (env.events.get(eventKey(value[0], key)) === undefined) env.ids.removeSync(key);
  }
  env.meta.putSync(DIGEST_KEY, sums.state.value());
  for (const { key } of env.meta.getRange({ start: `${DIGEST_KEY}/`, end: `${DIGEST_KEY}0` })) {
    env.meta.removeSync(key);
  }
  const digests = sums.values();
  for (const [feed, digest] of digests) env.meta.putSync(feedDigestKey(feed), digest);
  return digests;
}

/** The state digest and every feed's, folded together record by record. */
class FeedDigestSums {
  readonly state = new DigestSum();
  private readonly feeds = new Map<string, DigestSum>();

  toggle(feed: string, digest: Digest): void {
    this.state.toggle(digest);
    const sum = this.feeds.get(feed) ?? new DigestSum();
    this.feeds.set(feed, sum.toggle(digest));
  }

  values(): Map<string, Digest> {
    return new Map([...this.feeds].map(([feed, sum]) => [feed, sum.value()]));
  }
}

/**
 * Every feed's digest recomputed from `events` and `ids`, without writing: what `verifyDigest`
 * compares with the stored ones.
 */
export function computeDigests(env: Environment): { state: Digest; feeds: Map<string, Digest> } {
  const sums = new FeedDigestSums();
  for (const { key, value } of env.eventsInPlace.getRange({})) {
    const record = decodeRecord(key, value);
    const entry = env.ids.get(record.id);
    sums.toggle(entry === undefined ? UNATTRIBUTED_FEED : feedOfEntry(entry), recordDigest(record));
  }
  return { state: sums.state.value(), feeds: sums.values() };
}

/** A feed's stored digest (a feed without events: the empty one). */
export function readFeedDigest(env: Environment, feed: string): Digest {
  const digest = env.meta.get(feedDigestKey(feed));
  return typeof digest === 'string' ? digest : EMPTY_DIGEST;
}

/** Every feed's stored digest, by feed (feeds without events left out). */
export function readFeedDigests(env: Environment): Map<string, Digest> {
  const digests = new Map<string, Digest>();
  for (const { key, value } of env.meta.getRange({
    start: `${DIGEST_KEY}/`,
    end: `${DIGEST_KEY}0`,
  })) {
    if (typeof value === 'string' && value !== EMPTY_DIGEST) {
      digests.set(key.slice(DIGEST_KEY.length + 1), value);
    }
  }
  return digests;
}

/** The stored state digest (layout 2, before its migration: none). */
export function readDigest(env: Environment): Digest | null {
  const digest = env.meta.get(DIGEST_KEY);
  return typeof digest === 'string' ? digest : null;
}

export function readHead(env: Environment): Head {
  return env.meta.get(HEAD_KEY) as Head;
}

/** How many entries a database of the store holds (LMDB keeps the count: no scan). */
export function entryCount(db: { getStats(): unknown }): number {
  return (db.getStats() as { entryCount: number }).entryCount;
}
