import type { Database, RootDatabase } from 'lmdb';
import { entryCount } from './environment.js';
import { IN_PLACE_ENCODER } from './in-place-encoder.js';
import {
  BLOCKS_DB,
  BLOCKS_KEY,
  DIGEST_KEY,
  type Digest,
  DigestSum,
  decodeEnd,
  type EventKey,
  summaryBytes,
} from './layout.js';

/**
 * `blocks`: the events again, a run of consecutive ones (in `events` key order) per entry, packed
 * so that a window's scan copies stored bytes in runs instead of stepping a cursor once per event
 * (LMDB has no batched read, and a step through lmdb-js costs microseconds: more than copying the
 * event).
 *
 * An entry's key is the key of its first event; its value:
 *
 * | bytes           | what                                                                  |
 * |-----------------|-----------------------------------------------------------------------|
 * | 4               | n, the number of events (uint32 LE)                                   |
 * | 8 n             | their start instants (float64 LE)                                     |
 * | 8 n             | their end instants (float64 LE)                                       |
 * | 4 (n + 1)       | where each summary begins in the text below; the last: the text's length |
 * | the rest        | the summaries, each followed by a comma                               |
 *
 * so that events i..j of a block are one slice of its text (a comma between each, none after).
 * The blocks hold exactly what `events` holds: every write that changes `events` rebuilds the
 * blocks its keys fall in, in the same transaction, and stamps `meta` `blocks` with the state
 * digest it leaves. A reader uses the blocks only while that stamp equals the state digest of
 * its snapshot: a store written by a writer that keeps no blocks (an older Tessera) is read entry
 * by entry until a writer that does rebuilds them all at its open.
 */

/** At most this many events per block: a rebuilt block is rewritten whole. */
export const BLOCK_EVENTS = 64;
/** A block closes once its summaries pass this many bytes (a single large event fills one alone). */
export const BLOCK_BYTES = 16 * 1024;

export type BlocksDatabase = Database<Buffer, EventKey>;

/**
 * The blocks database; values are handed out in place (a view of lmdb-js's read buffer, valid
 * until the next read): whoever reads one copies what it keeps first.
 */
export function openBlocksDb(root: RootDatabase): BlocksDatabase {
  // lmdb-js honours `encoder` on a named database as on the root; its typings list it on the root only.
  return root.openDB<Buffer, EventKey>(BLOCKS_DB, { encoder: IN_PLACE_ENCODER } as never);
}

/** Where a block of n events keeps each field (the table above): one home for reader and packer. */
const at = {
  start: (i: number) => 4 + 8 * i,
  end: (n: number, i: number) => 4 + 8 * n + 8 * i,
  /** i = n: where the text's length is kept. */
  offset: (n: number, i: number) => 4 + 16 * n + 4 * i,
  text: (n: number) => 4 + 20 * n + 4,
};

/** One block, read in place: its events' instants and where each one's summary lies. */
export class Block {
  readonly count: number;
  private readonly view: DataView;
  private readonly textAt: number;

  constructor(private readonly value: Buffer) {
    this.view = new DataView(value.buffer, value.byteOffset, value.byteLength);
    this.count = this.view.getUint32(0, true);
    this.textAt = at.text(this.count);
  }

  startsAt(i: number): number {
    return this.view.getFloat64(at.start(i), true);
  }

  endsAt(i: number): number {
    return this.view.getFloat64(at.end(this.count, i), true);
  }

  /** Summaries i to j - 1 joined by commas: a view of the block's value. */
  run(i: number, j: number): Buffer {
    return this.value.subarray(this.textAt + this.offset(i), this.textAt + this.offset(j) - 1);
  }

  private offset(i: number): number {
    return this.view.getUint32(at.offset(this.count, i), true);
  }
}

/**
 * Packs consecutive events into block values, each summary copied in as it is added (the events
 * are read in place), so that rebuilding allocates per block, not per event.
 */
class BlockPacker {
  #first: EventKey | undefined;
  #starts: number[] = [];
  #ends: number[] = [];
  #offsets: number[] = [];
  #text = Buffer.allocUnsafe(2 * BLOCK_BYTES);
  #size = 0;

  get full(): boolean {
    return this.#starts.length === BLOCK_EVENTS || this.#size >= BLOCK_BYTES;
  }

  get empty(): boolean {
    return this.#first === undefined;
  }

  add(key: EventKey, endsAt: number, summary: Uint8Array): void {
    if (this.#size + summary.length + 1 > this.#text.length) {
      const larger = Buffer.allocUnsafe(2 * (this.#size + summary.length + 1));
      this.#text.copy(larger, 0, 0, this.#size);
      this.#text = larger;
    }
    this.#first ??= key;
    this.#starts.push(key[0]);
    this.#ends.push(endsAt);
    this.#offsets.push(this.#size);
    this.#text.set(summary, this.#size);
    this.#size += summary.length;
    this.#text[this.#size++] = 0x2c;
  }

  /** The block packed so far (undefined: none) with its key; the packer starts afresh. */
  take(): { key: EventKey; value: Buffer } | undefined {
    const key = this.#first;
    if (key === undefined) return undefined;
    const n = this.#starts.length;
    const head = at.text(n);
    const value = Buffer.allocUnsafe(head + this.#size);
    value.writeUInt32LE(n, 0);
    for (let i = 0; i < n; i++) {
      value.writeDoubleLE(this.#starts[i]!, at.start(i));
      value.writeDoubleLE(this.#ends[i]!, at.end(n, i));
      value.writeUInt32LE(this.#offsets[i]!, at.offset(n, i));
    }
    value.writeUInt32LE(this.#size, at.offset(n, n));
    this.#text.copy(value, head, 0, this.#size);
    this.#first = undefined;
    this.#starts = [];
    this.#ends = [];
    this.#offsets = [];
    this.#size = 0;
    return { key, value };
  }
}

/** Where the blocks and the events they are rebuilt from live, inside the writer's transaction. */
export interface BlockSources {
  blocks: BlocksDatabase;
  /** `events`, read in place (see in-place-encoder.ts). */
  eventsInPlace: Database<Buffer, EventKey>;
  meta: Database<unknown, string>;
}

/**
 * A write touching more than one key in this many rebuilds every block: each touched key costs
 * two cursor lookups and the repacking of up to a block's worth of events, so past this share one
 * pass over every event is the cheaper (an estimate, not tuned).
 */
const WHOLE_REBUILD_RATIO = 32;

/**
 * The blocks of a large write into an empty `events`, packed ahead of it from its records in key
 * order, in transactions of their own (the writer's): that write's own transaction then only
 * stamps them (see BlocksUpdate.finish), where rebuilding them all would hold their pages (~23
 * MiB for a 1 GB first ingest) in memory as dirty pages until it commits. The first of those
 * transactions removes the stamp, so no reader trusts the blocks until the write commits; a write
 * that fails leaves them unstamped, to be rebuilt.
 */
export class BlocksAhead {
  readonly #packer = new BlockPacker();
  readonly #digest = new DigestSum();
  #complete = false;

  constructor(private readonly sources: BlockSources) {}

  /** In the first transaction: the blocks there are (of no events) and their stamp go. */
  begin(): void {
    for (const key of [...this.sources.blocks.getKeys({})]) this.sources.blocks.removeSync(key);
    this.sources.meta.removeSync(BLOCKS_KEY);
  }

  /** The next event in key order, with its record digest. */
  add(key: EventKey, endsAt: number, summary: Uint8Array, digest: Digest): void {
    this.#packer.add(key, endsAt, summary);
    this.#digest.toggle(digest);
    if (this.#packer.full) this.#put(this.#packer.take());
  }

  /** In the last transaction, once every event is added. */
  end(): void {
    this.#put(this.#packer.take());
    this.#complete = true;
  }

  /** Whether these blocks hold exactly the events of a state of this digest. */
  describes(digest: Digest | undefined): boolean {
    return this.#complete && digest === this.#digest.value();
  }

  #put(block: { key: EventKey; value: Buffer } | undefined): void {
    if (block !== undefined) this.sources.blocks.putSync(block.key, block.value);
  }
}

/** The blocks' side of one write: told each key it writes or removes, then finished before the commit. */
export interface BlocksUpdate {
  touch(key: EventKey): void;
  /**
   * Rebuilds the blocks that hold a touched key, or all of them (below), and stamps them; or,
   * for a write into an empty `events` whose blocks were packed ahead, only stamps those.
   */
  finish(ahead?: BlocksAhead): void;
}

/**
 * Keeps the blocks through one write: the blocks that hold any touched key are rebuilt at
 * `finish`, then stamped with the state digest. Each block is a stretch between two block keys;
 * a touched key before the first block belongs to the first stretch. A write touching many keys
 * (a store's first ingest, say) rebuilds every block, inside that same transaction: the events are
 * read back from the transaction's own pages, where a transaction of its own would map the whole
 * `events` database from the file (measured: the 1 GB ingest's peak RSS 80 MiB higher).
 *
 * The touched keys are kept only while a partial rebuild is still possible: each key written
 * adds at most one event, so once `touched × (RATIO − 1)` passes the events there were before,
 * the write rebuilds them all whatever else it touches. Until then a key is held with its id,
 * and an id read from a stage is a slice of a string as long as its whole record: holding the
 * keys of a 1 GB first ingest held every summary again (~40 MiB of heap at the apply's peak).
 *
 * Blocks already behind the events before this write (a writer that keeps no blocks wrote since,
 * or the rebuild at this writer's open failed) only a whole rebuild makes current: repacking the
 * touched stretches and stamping would have readers trust the other stretches, which miss what
 * was written behind them. They are then left stale (read event by event, the same answers) for
 * the next writer's open to rebuild. Whether they were is read when the write begins, before it
 * moves the digest: call this then.
 */
export function beginBlocksUpdate(sources: BlockSources): BlocksUpdate {
  const wereCurrent = blocksCurrent(sources.meta);
  const before = entryCount(sources.eventsInPlace);
  let touched: EventKey[] | undefined = [];
  let count = 0;
  return {
    touch(key) {
      count++;
      if (touched === undefined) return;
      if (count * (WHOLE_REBUILD_RATIO - 1) > before) touched = undefined;
      else touched.push(key);
    },
    finish(ahead) {
      if (count === 0) return;
      if (before === 0 && ahead?.describes(sources.meta.get(DIGEST_KEY) as Digest | undefined)) {
        stampBlocks(sources.meta);
        return;
      }
      if (
        touched === undefined ||
        count * WHOLE_REBUILD_RATIO > entryCount(sources.eventsInPlace)
      ) {
        rebuildAllBlocks(sources, (fn) => fn());
      } else if (wereCurrent) {
        repackStretches(sources, touched);
      }
    },
  };
}

function repackStretches(sources: BlockSources, touched: readonly EventKey[]): void {
  const stretches = new Map<string, Stretch>();
  for (const key of touched) {
    const stretch = stretchOf(sources.blocks, key);
    stretches.set(JSON.stringify(stretch.start ?? null), stretch);
  }
  for (const stretch of stretches.values()) repackStretch(sources, stretch);
  stampBlocks(sources.meta);
}

/** Events repacked per transaction of a whole rebuild: about 4 MiB of blocks at typical sizes. */
const REBUILD_EVENTS = 256 * BLOCK_EVENTS;

/**
 * Every block again, from every event: the old blocks removed, then REBUILD_EVENTS events packed
 * at a time, each step run by `transaction` (the caller's own transaction, or one of its own
 * each), the stamp written with the last. Run in several transactions (a writer's open finding
 * the stamp stale), the stamp stays stale until the last, so no reader uses the blocks half
 * rebuilt, and a crash midway leaves it stale for the next open.
 */
export function rebuildAllBlocks(
  sources: BlockSources,
  transaction: (step: () => EventKey | undefined) => EventKey | undefined,
): void {
  transaction(() => {
    for (const key of [...sources.blocks.getKeys({})]) sources.blocks.removeSync(key);
    return undefined;
  });
  let start: EventKey | undefined;
  do {
    start = transaction(() => packFrom(sources, start));
  } while (start !== undefined);
}

/**
 * Packs the whole rebuild's events from `start` (undefined: the first) up to the first block
 * boundary past REBUILD_EVENTS events, and returns the key of the first event left (undefined
 * once every event is packed, the stamp then written).
 */
function packFrom(sources: BlockSources, start: EventKey | undefined): EventKey | undefined {
  const next = packEvents(sources, { start, end: undefined }, REBUILD_EVENTS);
  if (next === undefined) stampBlocks(sources.meta);
  return next;
}

/**
 * Packs the events between `range.start` (inclusive) and `range.end` into blocks, put as each
 * fills; stops at the first block boundary past `limit` events and returns the key of the first
 * event left (undefined: the range is packed).
 */
function packEvents(
  { blocks, eventsInPlace }: BlockSources,
  range: Stretch,
  limit = Number.POSITIVE_INFINITY,
): EventKey | undefined {
  const packer = new BlockPacker();
  const put = (block: { key: EventKey; value: Buffer } | undefined): void => {
    if (block !== undefined) blocks.putSync(block.key, block.value);
  };
  let count = 0;
  for (const { key, value } of eventsInPlace.getRange(range)) {
    if (count >= limit && packer.empty) return key;
    // Copied in before the next read: `value` is a view of the read buffer.
    packer.add(key, decodeEnd(value), summaryBytes(value));
    count++;
    if (packer.full) put(packer.take());
  }
  put(packer.take());
  return undefined;
}

/** Whether the blocks describe exactly the events of this snapshot (see the module comment). */
export function blocksCurrent(meta: Database<unknown, string>): boolean {
  const stamp = meta.get(BLOCKS_KEY);
  return stamp !== undefined && stamp === meta.get(DIGEST_KEY);
}

function stampBlocks(meta: Database<unknown, string>): void {
  meta.putSync(BLOCKS_KEY, meta.get(DIGEST_KEY) as Digest);
}

/** The keys between which a block is rebuilt: from its own key (inclusive) to the next block's. */
interface Stretch {
  start: EventKey | undefined;
  end: EventKey | undefined;
}

function stretchOf(blocks: BlocksDatabase, key: EventKey): Stretch {
  let start: EventKey | undefined;
  for (const k of blocks.getKeys({ start: key, reverse: true, limit: 1 })) start = k;
  let end: EventKey | undefined;
  for (const k of blocks.getKeys({ start: start ?? key, limit: 2 })) {
    if (start === undefined || k[0] !== start[0] || k[1] !== start[1]) {
      end = k;
      break;
    }
  }
  return { start, end };
}

/** Replaces the block at the stretch's start with blocks packed from the events of the stretch. */
function repackStretch(sources: BlockSources, stretch: Stretch): void {
  if (stretch.start !== undefined) sources.blocks.removeSync(stretch.start);
  packEvents(sources, stretch);
}
