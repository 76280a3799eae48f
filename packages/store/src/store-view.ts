import { isInWindow, type QueryWindow, startBounds } from '@tessera/core';
import { BlockScan, type RunScan, runsOfEvents } from './block-scan.js';
import { type ChangeRead, readChangesAfter } from './change-log.js';
import { CursorScan, type RangeIterator } from './cursor-scan.js';
import {
  blocksOf,
  changesOf,
  type Environment,
  entryCount,
  readDigest,
  readHead,
  unavailable,
} from './environment.js';
import { blocksCurrent } from './event-blocks.js';
import {
  type ChangePosition,
  comparePositions,
  type Digest,
  decodeEnd,
  type EventKey,
  endOfVersion,
  eventKey,
  FEED_KEYS,
  FEEDS_KEY,
  feedIdOf,
  feedKey,
  type Head,
  type IdEntry,
  STATE_KEY,
  summaryBytes,
  UNMIGRATED_FEED,
} from './layout.js';
import { StoreError } from './store-error.js';
import {
  type FeedRecord,
  FeedRecordSchema,
  type FeedState,
  FeedStateSchema,
  INITIAL_FEED_RECORD,
  INITIAL_STATE,
} from './store-state.js';

/** What every process may read: the same for the API's reader and the ingestor's writer. */
export interface StoreView {
  /** The store id and version, which together name the content (ETags derive from them). */
  head(): Head;
  /** A feed's poll state (the initial one for a feed never polled). */
  state(feed: string): FeedState;
  /** Every feed the store has a record of, configured or not, by id. */
  feeds(): FeedView[];
  count(): number;
  /**
   * The state digest: equal on any two stores holding the same events (see layout.ts); null for
   * a store of an older layout not yet migrated.
   */
  digest(): Digest | null;
  /**
   * Pre-serialized summaries of the events in the window, in key order (start, then id); from
   * `position` on, when given. Closing the iterator early (`return()`, or leaving a for-of)
   * releases its LMDB snapshot at once.
   */
  scan(window: QueryWindow, position?: ScanPosition): EventScan;
  /**
   * The same events as `scan(window)`, as runs of summaries already joined by commas: what an
   * answer is made of without a step per event where the store keeps its events in blocks.
   */
  runs(window: QueryWindow): RunScan;
  /**
   * Whether `runs` reads blocks now (true), or event by event (false: a writer that keeps no
   * blocks wrote last, or the writer is still rebuilding them; answers are the same, slower).
   */
  blocksCurrent(): boolean;
  /** One event's pre-serialized summary and record digest, from the ids index; undefined if unknown. */
  event(id: string): StoredEvent | undefined;
  /**
   * Up to `limit` changes of the change log strictly after `after`, in log order, from one
   * snapshot; `expired` when the log no longer reaches back to `after` (see layout.ts).
   */
  changes(after: ChangePosition, limit: number): ChangeRead;
}

/** A feed's record, with its id and whether the ingestor was last started with it. */
export interface FeedView extends FeedRecord {
  id: string;
  configured: boolean;
}

/**
 * Where a scan resumes: strictly after `after`, leaving out events whose key changed at a version
 * later than `movedSince` (they may have been served before the position, under their old key).
 */
export interface ScanPosition {
  after: EventKey;
  movedSince: number;
}

export interface EventScan extends IterableIterator<Buffer> {
  /** The key of the last event returned; undefined before the first. */
  lastKey(): EventKey | undefined;
}

export interface StoredEvent {
  summary: Buffer;
  digest: Digest;
}

/** Head of a store that does not exist yet: nothing stored, no id to name. */
export const ABSENT_HEAD: Head = { storeId: 'none', version: 0 };

export const EMPTY_VIEW: StoreView = {
  head: () => ABSENT_HEAD,
  state: () => INITIAL_STATE,
  feeds: () => [],
  count: () => 0,
  digest: () => null,
  scan: () => Object.assign([][Symbol.iterator](), { lastKey: () => undefined }),
  runs: () => runsOfEvents([][Symbol.iterator]()),
  // Nothing to read, so nothing read the slow way.
  blocksCurrent: () => true,
  event: () => undefined,
  changes: (after) => ({ expired: comparePositions(after, endOfVersion(0)) < 0, changes: [] }),
};

/** A view whose open scans can be ended: its owner does so before closing the environment. */
export interface OwnedView extends StoreView {
  /**
   * Ends every scan still open: each releases its cursor and snapshot now, and throws
   * `store_unavailable` if read again rather than ending as if its window were exhausted. A
   * cursor closed after its environment touches freed memory and crashes the process
   * (mdb_cursor_close), which is what a stream still open at shutdown would otherwise do.
   */
  endScans(): void;
}

export function viewOf(env: Environment): OwnedView {
  const read = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (cause) {
      throw cause instanceof StoreError ? cause : unavailable(env.path, cause, 'read');
    }
  };
  const open = new Set<CursorScan<unknown>>();
  /** The blocks, while they describe this snapshot's events; else undefined (see event-blocks.ts). */
  const currentBlocks = () => {
    const blocks = read(() => blocksOf(env, open.size === 0));
    return blocks !== undefined && read(() => blocksCurrent(env.meta)) ? blocks : undefined;
  };
  return {
    head: () => read(() => readHead(env)),
    state: (feed) => read(() => readFeed(env, feed)?.state ?? INITIAL_STATE),
    feeds: () => read(() => readFeeds(env)),
    count: () => read(() => entryCount(env.events)),
    digest: () => read(() => readDigest(env)),
    scan(window, position) {
      const { from, to } = startBounds(window);
      // Keys are [startsAt, id]: [to + 1] sorts after every key starting at `to` (whole ms).
      const start = position?.after ?? (from === null ? undefined : [from]);
      const range = read(() =>
        env.eventsInPlace
          .getRange({ start, end: to === null ? undefined : [to + 1] })
          [Symbol.iterator](),
      );
      const movedSince = position?.movedSince;
      // Only a write since the position can have moved an event: otherwise no ids lookup at all.
      const moved =
        movedSince === undefined || readHead(env).version === movedSince
          ? undefined
          : (id: string) => ((env.ids.get(id) as IdEntry | undefined)?.[2] ?? 0) > movedSince;
      return new OpenScan(range, window, open, env.path, position?.after, moved);
    },
    runs(window) {
      const blocks = currentBlocks();
      if (blocks === undefined) return runsOfEvents(this.scan(window));
      const { from, to } = startBounds(window);
      const range = read(() => {
        // The last block beginning before the window may hold its first events.
        let start: EventKey | [number] | undefined = from === null ? undefined : [from];
        if (start !== undefined) {
          for (const key of blocks.getKeys({ start, reverse: true, limit: 1 })) start = key;
        }
        const end = to === null ? undefined : [to + 1];
        return blocks.getRange({ start, end } as { start?: EventKey })[Symbol.iterator]();
      });
      return new BlockScan(range, window, open, env.path);
    },
    blocksCurrent: () => currentBlocks() !== undefined,
    event(id) {
      return read(() => {
        const entry = env.ids.get(id) as IdEntry | undefined;
        if (entry === undefined) return undefined;
        const value = env.events.get(eventKey(entry[0], id));
        return value === undefined ? undefined : { summary: summaryBytes(value), digest: entry[1] };
      });
    },
    changes: (after, limit) =>
      read(() => readChangesAfter(changesOf(env, open.size === 0), env.meta, after, limit)),
    endScans() {
      for (const scan of open) scan.end();
    },
  };
}

/** A feed's record; a store not migrated yet (layout 3 or older) has its one feed's state only. */
function readFeed(env: Environment, id: string): FeedRecord | undefined {
  const raw = env.meta.get(feedKey(id));
  if (raw !== undefined) return FeedRecordSchema.parse(raw);
  const legacy = id === UNMIGRATED_FEED ? env.meta.get(STATE_KEY) : undefined;
  return legacy === undefined
    ? undefined
    : { ...INITIAL_FEED_RECORD, state: FeedStateSchema.parse(legacy) };
}

function readFeeds(env: Environment): FeedView[] {
  const configured = new Set((env.meta.get(FEEDS_KEY) as string[] | undefined) ?? []);
  const feeds: FeedView[] = [];
  for (const { key, value } of env.meta.getRange(FEED_KEYS)) {
    const id = feedIdOf(key);
    feeds.push({ id, configured: configured.has(id), ...FeedRecordSchema.parse(value) });
  }
  const legacy = feeds.length === 0 ? readFeed(env, UNMIGRATED_FEED) : undefined;
  if (legacy !== undefined) feeds.push({ id: UNMIGRATED_FEED, configured: true, ...legacy });
  return feeds;
}

/** One scan: the events of a window, read from an LMDB cursor as they are asked for. */
class OpenScan extends CursorScan<Buffer> implements EventScan {
  #last: EventKey | undefined;

  constructor(
    range: RangeIterator,
    private readonly window: QueryWindow,
    open: Set<CursorScan<unknown>>,
    path: string,
    /** The range starts at this key, which the scan resumes strictly after. */
    private readonly after?: EventKey,
    private readonly moved?: (id: string) => boolean,
  ) {
    super(range, open, path);
  }

  lastKey(): EventKey | undefined {
    return this.#last;
  }

  protected step(): Buffer | undefined {
    for (;;) {
      const next = this.range.next();
      if (next.done === true) return undefined;
      const { key, value } = next.value;
      if (this.after !== undefined && key[0] === this.after[0] && key[1] === this.after[1]) {
        continue;
      }
      if (!isInWindow(this.window, key[0], decodeEnd(value))) continue;
      // Copied before any other read: `value` is a view of the read buffer (eventsInPlace).
      const summary = Buffer.from(summaryBytes(value));
      if (this.moved?.(key[1]) === true) continue;
      this.#last = key;
      return summary;
    }
  }
}
