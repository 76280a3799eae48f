import { closeSync, openSync, rmSync } from 'node:fs';
import type { EventRecord } from '@tessera/core';
import { asRecord, decodeFrame, readExactly, readFrames, writeAll } from './stage-frames.js';

/** A live frame of a stage (its id's last staging), as a first reading of the records file finds it. */
export interface LiveFrame {
  offset: number;
  /** Its body's length. */
  length: number;
  id: string;
  startsAt: number;
}

/** Each bucket of the sort holds about this many bytes of frames: one read brings it back whole. */
const BUCKET_BYTES = 1024 ** 2;
/** What each bucket gathers in memory before it is written out. */
const BUCKET_BUFFER_BYTES = 16 * 1024;
/** Before each frame in the scratch file: its rank in key order, and its body's length. */
const ENTRY_HEADER_BYTES = 8;

/**
 * A stage's live records in `events` key order (start, then the id's UTF-8 bytes), read without
 * a system call per record. Reading each frame at its own offset cost ~4 µs a record here, most
 * of a 1 GB first ingest's ahead pass, so this is a bucket sort through a scratch file: the
 * frames are ranked from `live` (~16 bytes a record held), cut into buckets of consecutive ranks
 * of about BUCKET_BYTES, copied in one sequential read of the records file to their bucket's
 * region of the scratch file (through a small buffer per bucket), and each bucket is read back
 * whole and handed out in rank order. Memory: a bucket, and BUCKET_BUFFER_BYTES per bucket
 * (~1.6 % of the stage's size). The scratch file is deleted when the iteration ends.
 */
export function* recordsInKeyOrder(
  fd: number,
  end: number,
  live: Iterable<LiveFrame>,
  scratchPath: string,
): Generator<EventRecord> {
  const ranked = rankFrames(live);
  const buckets = cutBuckets(ranked);
  const scratch = openSync(scratchPath, 'w+');
  try {
    distribute(fd, end, ranked, buckets, scratch);
    let buffer = Buffer.allocUnsafe(BUCKET_BYTES + ENTRY_HEADER_BYTES);
    for (let b = 0; b < buckets.firstRank.length - 1; b++) {
      const from = buckets.start[b]!;
      const bytes = buckets.start[b + 1]! - from;
      if (bytes > buffer.length) buffer = Buffer.allocUnsafe(bytes);
      readExactly(scratch, buffer, bytes, from);
      const first = buckets.firstRank[b]!;
      // Where each rank's body lies in the bucket: the entries are in the records file's order.
      const at = new Uint32Array(buckets.firstRank[b + 1]! - first);
      for (let p = 0; p < bytes; p += ENTRY_HEADER_BYTES + buffer.readUInt32LE(p + 4)) {
        at[buffer.readUInt32LE(p) - first] = p;
      }
      for (const p of at) {
        const body = buffer.subarray(
          p + ENTRY_HEADER_BYTES,
          p + ENTRY_HEADER_BYTES + buffer.readUInt32LE(p + 4),
        );
        yield asRecord(decodeFrame(body));
      }
    }
  } finally {
    closeSync(scratch);
    rmSync(scratchPath, { force: true });
  }
}

/** The live frames in the records file's order, each with its rank in key order. */
interface RankedFrames {
  offsets: number[];
  lengths: number[];
  /** Rank of the i-th live frame. */
  rankOf: Uint32Array;
  /** The live frame (its index) at each rank. */
  atRank: Uint32Array;
}

function rankFrames(live: Iterable<LiveFrame>): RankedFrames {
  const starts: number[] = [];
  const offsets: number[] = [];
  const lengths: number[] = [];
  const idEnds: number[] = [];
  // Ids are kept as bytes: a decoded id is a slice of a string as long as its whole frame.
  let ids = Buffer.allocUnsafe(64 * 1024);
  let idBytes = 0;
  for (const frame of live) {
    const size = Buffer.byteLength(frame.id);
    if (idBytes + size > ids.length) {
      const larger = Buffer.allocUnsafe(2 * (idBytes + size));
      ids.copy(larger, 0, 0, idBytes);
      ids = larger;
    }
    idBytes += ids.write(frame.id, idBytes);
    starts.push(frame.startsAt);
    offsets.push(frame.offset);
    lengths.push(frame.length);
    idEnds.push(idBytes);
  }
  const idOf = (i: number) => ids.subarray(i === 0 ? 0 : idEnds[i - 1], idEnds[i]);
  const atRank = Uint32Array.from(starts.keys());
  atRank.sort((a, b) => starts[a]! - starts[b]! || Buffer.compare(idOf(a), idOf(b)));
  const rankOf = new Uint32Array(atRank.length);
  atRank.forEach((frame, rank) => {
    rankOf[frame] = rank;
  });
  return { offsets, lengths, rankOf, atRank };
}

/** Buckets of consecutive ranks: where each begins in the scratch file, and its first rank (one past the last closes each). */
interface Buckets {
  start: number[];
  firstRank: number[];
  bucketOf: Uint32Array;
}

function cutBuckets({ lengths, atRank }: RankedFrames): Buckets {
  const start = [0];
  const firstRank = [0];
  const bucketOf = new Uint32Array(atRank.length);
  let bytes = 0;
  let inBucket = 0;
  for (let rank = 0; rank < atRank.length; rank++) {
    const size = ENTRY_HEADER_BYTES + lengths[atRank[rank]!]!;
    if (inBucket > 0 && inBucket + size > BUCKET_BYTES) {
      start.push(bytes);
      firstRank.push(rank);
      inBucket = 0;
    }
    bucketOf[rank] = start.length - 1;
    bytes += size;
    inBucket += size;
  }
  start.push(bytes);
  firstRank.push(atRank.length);
  return { start, firstRank, bucketOf };
}

/** Copies each live frame, after its rank and length, to the end of its bucket's region so far. */
function distribute(
  fd: number,
  end: number,
  { offsets, rankOf }: RankedFrames,
  { start, bucketOf }: Buckets,
  scratch: number,
): void {
  const count = start.length - 1;
  const pending = Array.from({ length: count }, () => ({ bytes: Buffer.alloc(0), used: 0 }));
  const written = start.slice(0, count);
  const flush = (b: number): void => {
    const bucket = pending[b]!;
    writeAll(scratch, bucket.bytes.subarray(0, bucket.used), written[b]!);
    written[b]! += bucket.used;
    bucket.used = 0;
  };
  let i = 0;
  for (const { offset, body } of readFrames(fd, end)) {
    // Frames of an id staged again later are not live: they are passed over.
    if (offset !== offsets[i]) continue;
    const rank = rankOf[i++]!;
    const b = bucketOf[rank]!;
    const bucket = pending[b]!;
    const size = ENTRY_HEADER_BYTES + body.length;
    if (bucket.used + size > bucket.bytes.length) {
      flush(b);
      if (size > bucket.bytes.length)
        bucket.bytes = Buffer.allocUnsafe(Math.max(size, BUCKET_BUFFER_BYTES));
    }
    bucket.bytes.writeUInt32LE(rank, bucket.used);
    bucket.bytes.writeUInt32LE(body.length, bucket.used + 4);
    body.copy(bucket.bytes, bucket.used + ENTRY_HEADER_BYTES);
    bucket.used += size;
  }
  for (let b = 0; b < count; b++) flush(b);
}
