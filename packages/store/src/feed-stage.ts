import { closeSync, mkdirSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { EventRecord } from '@tessera/core';
import { open, type RootDatabase } from 'lmdb';
import { pack, unpack } from 'msgpackr';
import { unavailable } from './environment.js';
import { STAGE_DIR } from './layout.js';
import { describeCause, StoreError } from './store-error.js';

type Staged = [id: string, startsAt: number, endsAt: number, summary: string];

/** A stage's records: read afresh from the stage each time they are iterated. */
export interface StagedRecords extends Iterable<EventRecord> {
  /** Distinct records. */
  readonly size: number;
  /**
   * The same records in `events` key order (start, then id), as often as iterated: the order is
   * found once, at the first iteration, from one pass over the stage (held as ~16 bytes a
   * record), and each record is then read back on its own.
   */
  inKeyOrder(): Iterable<EventRecord>;
}

/**
 * Where a feed's records wait while the feed is still arriving (a partner's body, a cluster
 * batch's parts), so that no write transaction of the store stays open across the network. A
 * record staged twice keeps its last value, as a feed applied in one transaction would. Records
 * come back once per id, in the order they were last staged, from one snapshot.
 */
export interface FeedStage {
  readonly name: string;
  /** Stages records (one write and one small transaction, no fsync: a stage never outlives its process). */
  add(records: readonly EventRecord[]): void;
  /** Distinct records staged. */
  size(): number;
  records(): StagedRecords;
  /**
   * Empties the stage for the next feed: its files are deleted, not only its records, because
   * a failed feed must not keep its disk space (a full disk would then refuse even the record
   * of the failure).
   */
  clear(): Promise<void>;
  close(): Promise<void>;
}

/** Mapped address space, not memory: the largest id index a stage can hold. */
const INDEX_MAP_SIZE = 1024 ** 3;
/** Bytes read from the records file at a time when the stage is read back. */
const READ_BLOCK_BYTES = 1024 ** 2;
/** Each framed record starts with its length. */
const FRAME_HEADER_BYTES = 4;

/** The directory of one stage inside a store directory. */
export function stagePath(storePath: string, name: string): string {
  return join(storePath, STAGE_DIR, name);
}

/**
 * A stage, empty (the writer deletes every stage when it opens the store: one written without
 * fsync may be torn). Its files are created at the first record and deleted by `clear`. Only
 * the store's writer opens stages.
 *
 * The records are appended to a plain file, never mapped: LMDB keeps every page it writes
 * resident in the process, so a stage in LMDB added the whole feed's size to the ingestor's
 * RSS while it arrived and again while it was applied (~35 MiB for a 1 GB feed). The file's
 * pages stay in the page cache, which the kernel reclaims. A small LMDB index (id → the
 * offset of its last staging) makes a record staged again replace the earlier one.
 */
export function openFeedStage(storePath: string, name: string): FeedStage {
  const path = stagePath(storePath, name);
  let opened: { fd: number; index: RootDatabase<number, string> } | undefined;
  let written = 0;
  /** Records staged, counting each staging of an id: more than the index holds if any was staged again. */
  let staged = 0;

  const files = (): { fd: number; index: RootDatabase<number, string> } => {
    if (opened !== undefined) return opened;
    try {
      mkdirSync(path, { recursive: true });
      const index = open<number, string>({
        path: join(path, 'index'),
        noSubdir: false,
        mapSize: INDEX_MAP_SIZE,
        noSync: true,
        encoding: 'msgpack',
      });
      opened = { fd: openSync(join(path, 'records'), 'w+'), index };
    } catch (cause) {
      throw unavailable(path, cause);
    }
    return opened;
  };
  const discard = async (): Promise<void> => {
    const closing = opened;
    opened = undefined;
    written = 0;
    staged = 0;
    if (closing !== undefined) {
      closeSync(closing.fd);
      await closing.index.close();
    }
    try {
      rmSync(path, { recursive: true, force: true });
    } catch (cause) {
      throw unavailable(path, cause, 'delete');
    }
  };

  return {
    name,
    add(records) {
      if (records.length === 0) return;
      const { fd, index } = files();
      const { bytes, offsets } = frames(records, written);
      try {
        writeAll(fd, bytes, written);
        index.transactionSync(() => {
          for (const [i, r] of records.entries()) index.putSync(r.id, offsets[i]!);
        });
      } catch (cause) {
        throw new StoreError(
          'store_write_failed',
          `staging records failed: ${describeCause(cause)}`,
          {
            cause,
          },
        );
      }
      written += bytes.length;
      staged += records.length;
    },
    size: () => (opened === undefined ? 0 : entryCount(opened.index)),
    records() {
      const files = opened;
      const end = written;
      const stagings = staged;
      /** The live frames, each with its offset, in the order staged. */
      function* live(): Generator<{ offset: number; length: number; record: Staged }> {
        if (files === undefined) return;
        const { fd, index } = files;
        // Only a stage holding an id twice has frames to pass over: the others are read
        // without a lookup per record.
        const restaged = stagings > entryCount(index);
        for (const frame of readFrames(fd, end)) {
          // An id staged again later: its last staging is the one that counts.
          if (!restaged || index.get(frame.record[0]) === frame.offset) yield frame;
        }
      }
      let keyOrder: FramesInKeyOrder | undefined;
      return {
        size: files === undefined ? 0 : entryCount(files.index),
        *[Symbol.iterator]() {
          for (const { record } of live()) yield asRecord(record);
        },
        inKeyOrder: () => ({
          *[Symbol.iterator]() {
            if (files === undefined) return;
            keyOrder ??= framesInKeyOrder(live());
            const read = frameReader(files.fd);
            const { offsets, lengths } = keyOrder;
            for (let i = 0; i < offsets.length; i++) yield asRecord(read(offsets[i]!, lengths[i]!));
          },
        }),
      };
    },
    clear: discard,
    close: discard,
  };
}

function asRecord([id, startsAt, endsAt, summary]: Staged): EventRecord {
  return { id, startsAt, endsAt, summary };
}

/** Where each frame lies (its body's length after the header), in `events` key order. */
interface FramesInKeyOrder {
  offsets: Float64Array;
  lengths: Uint32Array;
}

/**
 * The frames sorted as `events` orders their keys: by start, then by the id's UTF-8 bytes. Ids
 * are copied out as bytes (a decoded id is a slice of a string as long as its whole frame, which
 * holding would hold every summary).
 */
function framesInKeyOrder(
  frames: Iterable<{ offset: number; length: number; record: Staged }>,
): FramesInKeyOrder {
  const starts: number[] = [];
  const offsets: number[] = [];
  const lengths: number[] = [];
  const idEnds: number[] = [];
  let ids = Buffer.allocUnsafe(64 * 1024);
  let idBytes = 0;
  for (const { offset, length, record } of frames) {
    const size = Buffer.byteLength(record[0]);
    if (idBytes + size > ids.length) {
      const larger = Buffer.allocUnsafe(2 * (idBytes + size));
      ids.copy(larger, 0, 0, idBytes);
      ids = larger;
    }
    idBytes += ids.write(record[0], idBytes);
    starts.push(record[1]);
    offsets.push(offset);
    lengths.push(length);
    idEnds.push(idBytes);
  }
  const idOf = (i: number) => ids.subarray(i === 0 ? 0 : idEnds[i - 1], idEnds[i]);
  const order = Uint32Array.from(starts.keys());
  order.sort((a, b) => starts[a]! - starts[b]! || Buffer.compare(idOf(a), idOf(b)));
  return {
    offsets: Float64Array.from(order, (i) => offsets[i]!),
    lengths: Uint32Array.from(order, (i) => lengths[i]!),
  };
}

/** Distinct ids staged: the index's entries. */
function entryCount(index: RootDatabase<number, string>): number {
  return (index.getStats() as { entryCount: number }).entryCount;
}

/** A write of a regular file may be short (a full disk): go on until all of it is written or it fails. */
function writeAll(fd: number, bytes: Buffer, position: number): void {
  for (let done = 0; done < bytes.length; ) {
    done += writeSync(fd, bytes, done, bytes.length - done, position + done);
  }
}

/** The records as one run of frames (length, then msgpack), and where each begins in the file. */
function frames(records: readonly EventRecord[], at: number): { bytes: Buffer; offsets: number[] } {
  const bodies = records.map((r) => pack([r.id, r.startsAt, r.endsAt, r.summary] satisfies Staged));
  const total = bodies.reduce((sum, body) => sum + FRAME_HEADER_BYTES + body.length, 0);
  const bytes = Buffer.allocUnsafe(total);
  const offsets: number[] = [];
  let cursor = 0;
  for (const body of bodies) {
    offsets.push(at + cursor);
    bytes.writeUInt32LE(body.length, cursor);
    body.copy(bytes, cursor + FRAME_HEADER_BYTES);
    cursor += FRAME_HEADER_BYTES + body.length;
  }
  return { bytes, offsets };
}

/** Reads frames one at a time, each at its offset, through one buffer (grown for a longer frame). */
function frameReader(fd: number): (offset: number, length: number) => Staged {
  let buffer = Buffer.allocUnsafe(4096);
  return (offset, length) => {
    if (length > buffer.length) buffer = Buffer.allocUnsafe(2 * length);
    const body = offset + FRAME_HEADER_BYTES;
    let filled = 0;
    while (filled < length) {
      const read = readSync(fd, buffer, filled, length - filled, body + filled);
      if (read === 0) {
        throw new StoreError(
          'store_write_failed',
          `the stage's records file ends within the frame at ${offset}`,
        );
      }
      filled += read;
    }
    return unpack(buffer.subarray(0, length)) as Staged;
  };
}

/** The records file's frames in order, read a block at a time (a longer frame grows the block). */
function* readFrames(
  fd: number,
  end: number,
): Generator<{ offset: number; length: number; record: Staged }> {
  let block = Buffer.allocUnsafe(READ_BLOCK_BYTES);
  let blockAt = 0;
  let filled = 0;
  /** Reads the file from `from` into the block, at least `need` bytes of it. */
  const fill = (from: number, need: number): void => {
    if (need > block.length) block = Buffer.allocUnsafe(need);
    blockAt = from;
    filled = 0;
    const want = Math.min(block.length, end - from);
    while (filled < want) {
      const read = readSync(fd, block, filled, want - filled, from + filled);
      if (read === 0) break;
      filled += read;
    }
    if (filled < need) {
      throw new StoreError(
        'store_write_failed',
        `the stage's records file ends at ${from + filled}`,
      );
    }
  };
  let at = 0;
  while (at < end) {
    if (at + FRAME_HEADER_BYTES > blockAt + filled) fill(at, FRAME_HEADER_BYTES);
    const length = block.readUInt32LE(at - blockAt);
    if (at + FRAME_HEADER_BYTES + length > blockAt + filled) fill(at, FRAME_HEADER_BYTES + length);
    const start = at - blockAt + FRAME_HEADER_BYTES;
    yield { offset: at, length, record: unpack(block.subarray(start, start + length)) as Staged };
    at += FRAME_HEADER_BYTES + length;
  }
}
