import { readSync, writeSync } from 'node:fs';
import type { EventRecord } from '@tessera/core';
import { pack, unpack } from 'msgpackr';
import { StoreError } from './store-error.js';

/**
 * How a stage's records file holds records: frames, each its body's length (uint32 LE), then the
 * body, the record as msgpack `[id, startsAt, endsAt, summary]`.
 */
export type Staged = [id: string, startsAt: number, endsAt: number, summary: string];

/** Each framed record starts with its length. */
export const FRAME_HEADER_BYTES = 4;
/** Bytes read from the records file at a time when the stage is read back. */
const READ_BLOCK_BYTES = 1024 ** 2;

export function asRecord([id, startsAt, endsAt, summary]: Staged): EventRecord {
  return { id, startsAt, endsAt, summary };
}

export function decodeFrame(body: Buffer): Staged {
  return unpack(body) as Staged;
}

/** The records as one run of frames, and where each begins in the file. */
export function encodeFrames(
  records: readonly EventRecord[],
  at: number,
): { bytes: Buffer; offsets: number[] } {
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

/** A write of a regular file may be short (a full disk): go on until all of it is written or it fails. */
export function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  for (let done = 0; done < bytes.length; ) {
    done += writeSync(fd, bytes, done, bytes.length - done, position + done);
  }
}

/** Reads exactly `length` bytes at `position` into `into` (from its start), or fails. */
export function readExactly(fd: number, into: Buffer, length: number, position: number): void {
  let filled = 0;
  while (filled < length) {
    const read = readSync(fd, into, filled, length - filled, position + filled);
    if (read === 0) {
      throw new StoreError('store_write_failed', `a stage file ends at ${position + filled}`);
    }
    filled += read;
  }
}

/**
 * The records file's frames in order, read a block at a time (a longer frame grows the block):
 * each body is a view of the block, valid until the next step.
 */
export function* readFrames(fd: number, end: number): Generator<{ offset: number; body: Buffer }> {
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
    yield { offset: at, body: block.subarray(start, start + length) };
    at += FRAME_HEADER_BYTES + length;
  }
}
