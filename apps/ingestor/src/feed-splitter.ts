import { VOCABULARIES } from '@tessera/core';
import { type FeedChunk, RUN_BYTES, runEndsIn } from './feed-chunk.js';
import { IngestError } from './ingest-error.js';
import { forEachInMarkup, HeadScan } from './opaque-markup.js';

export interface SplitterOptions {
  /** Target size of a chunk handed to a worker. */
  chunkBytes: number;
  /** Largest single base element (and so the largest carry) accepted. */
  maxElementBytes: number;
  /** About how long a run is (RUN_BYTES unless a test asks for runs of its own size). */
  runBytes?: number;
}

/** The opening tag of any of these elements; group 1 is its name. */
export function elementStart(names: readonly string[]): RegExp {
  return new RegExp(
    `<(${names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})[\\s/>]`,
    'g',
  );
}

/** The opening tag of a base element in any vocabulary of core's table. */
const BASE_START = elementStart(VOCABULARIES.map((v) => v.base));

/**
 * Cuts the feed's byte stream into chunks of whole base elements, so that workers can parse
 * chunks independently. What precedes the first base element (prolog, root, `<output>`) is the
 * head and what follows the last one is the tail; the caller checks both as one document
 * (see `checkEnvelope`). Cuts fall right after a closing tag, which is ASCII, so a UTF-8
 * character is never split; tags spelled inside comments, CDATA sections and processing
 * instructions are stepped over (see opaque-markup.ts), so a cut never falls inside one. Memory
 * is bounded by chunkBytes + maxElementBytes.
 */
export class FeedSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private closeTag: Buffer | undefined;
  private readonly headScan: HeadScan;
  /** Pending size at which cutting is next worth trying: each join copies the whole carry. */
  private nextCutAt: number;
  head: Buffer = Buffer.alloc(0);
  tail: Buffer = Buffer.alloc(0);

  /** `unitStart`: the elements cut between, the built-in vocabularies' base elements by default. */
  constructor(
    private readonly options: SplitterOptions,
    unitStart: RegExp = BASE_START,
  ) {
    this.nextCutAt = options.chunkBytes;
    this.headScan = new HeadScan(unitStart);
  }

  push(piece: Buffer): FeedChunk[] {
    this.pending.push(piece);
    this.pendingBytes += piece.length;
    if (this.closeTag === undefined) {
      if (!this.findHead(piece)) {
        if (this.pendingBytes > this.options.maxElementBytes) {
          throw new IngestError(
            'feed_malformed',
            'no base element within the first bytes of the feed',
          );
        }
        return [];
      }
    }
    if (this.pendingBytes < this.nextCutAt) return [];
    const chunks = this.cut(false);
    // Nothing cut means one element is still arriving: wait for another chunk's worth of it.
    this.nextCutAt =
      chunks.length === 0 ? this.pendingBytes + this.options.chunkBytes : this.options.chunkBytes;
    return chunks;
  }

  end(): FeedChunk[] {
    if (this.closeTag === undefined) {
      // No base element at all: the whole document is head (an empty feed, or not a feed).
      this.head = Buffer.concat(this.pending);
      this.pending = [];
      this.pendingBytes = 0;
      return [];
    }
    return this.cut(true);
  }

  /**
   * Looks for the first base element in the new piece (plus a few bytes kept from the last one,
   * so that a tag split across pieces is found), outside comments, CDATA sections and PIs; one
   * still open at the end of a piece is remembered, not rescanned. Each byte is scanned once.
   */
  private findHead(piece: Buffer): boolean {
    const found = this.headScan.push(piece.toString('latin1'));
    if (found === undefined) return false;
    const { joined } = this.joinPending();
    const at = found.at;
    this.head = Buffer.from(joined.subarray(0, at));
    this.closeTag = Buffer.from(`</${found.name}>`, 'latin1');
    this.replacePending(Buffer.from(joined.subarray(at)));
    return true;
  }

  private cut(last: boolean): FeedChunk[] {
    const { joined, owned } = this.joinPending();
    const tag = this.closeTag!;
    const { chunkBytes, maxElementBytes, runBytes = RUN_BYTES } = this.options;
    const { ranges, runEnds } = chunkRanges(joined, tag, { chunkBytes, runBytes }, last);
    const from = ranges.at(-1)?.[1] ?? 0;
    const rest = joined.subarray(from);
    if (!last && rest.length > maxElementBytes) {
      throw new IngestError(
        'feed_malformed',
        `a base element exceeds MAX_ELEMENT_BYTES (${maxElementBytes} bytes)`,
      );
    }
    // The carry is copied out first: the common case then sends the joined buffer itself, whose
    // ArrayBuffer nothing else uses, instead of a copy of it.
    const carry = ranges.length === 0 ? rest : Buffer.from(rest);
    if (last) {
      this.tail = Buffer.from(carry);
      this.replacePending(Buffer.alloc(0));
    } else {
      this.replacePending(carry);
    }
    const runs = runEndsIn(runEnds, ranges);
    if (ranges.length === 1 && owned && ranges[0]![0] === 0) {
      return [{ bytes: joined.subarray(0, ranges[0]![1]), runEnds: runs[0]! }];
    }
    return ranges.map(([start, end], i) => ({
      bytes: ownBuffer(joined.subarray(start, end)),
      runEnds: runs[i]!,
    }));
  }

  /** The pending pieces as one buffer; `owned` when it was made here, with an ArrayBuffer of its own. */
  private joinPending(): { joined: Buffer; owned: boolean } {
    if (this.pending.length === 1) return { joined: this.pending[0]!, owned: false };
    const joined = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [joined];
    const owned = joined.byteOffset === 0 && joined.buffer.byteLength === joined.length;
    return { joined, owned };
  }

  private replacePending(rest: Buffer): void {
    this.pending = rest.length === 0 ? [] : [rest];
    this.pendingBytes = rest.length;
  }
}

/**
 * Whole-element chunks of at most about chunkBytes, however large the piece that arrived, in
 * one pass over the closing tags in markup: each chunk ends at the last closing tag that keeps
 * it within chunkBytes or, for an element larger than that, at the first. Before the end of the
 * feed, a last stretch shorter than a chunk stays pending (more of it may come). The same pass
 * notes where runs of about runBytes end.
 */
function chunkRanges(
  joined: Buffer,
  tag: Buffer,
  { chunkBytes, runBytes }: { chunkBytes: number; runBytes: number },
  last: boolean,
): { ranges: Array<[from: number, end: number]>; runEnds: number[] } {
  const ranges: Array<[from: number, end: number]> = [];
  const runEnds: number[] = [];
  let start = 0;
  let best = -1;
  forEachInMarkup(joined, tag, 0, (at) => {
    const end = at + tag.length;
    if (end - (runEnds.at(-1) ?? 0) >= runBytes) runEnds.push(end);
    if (end - start > chunkBytes && best !== -1) {
      ranges.push([start, best]);
      start = best;
      best = -1;
    }
    if (end - start <= chunkBytes) {
      best = end;
    } else {
      ranges.push([start, end]);
      start = end;
    }
  });
  if (best !== -1 && (last || joined.length - start >= chunkBytes)) ranges.push([start, best]);
  return { ranges, runEnds };
}

/**
 * A copy with an ArrayBuffer of its own, safe to transfer to a worker: small Buffers share
 * Node's pool, and transferring the pool would detach every other Buffer in it.
 */
function ownBuffer(bytes: Uint8Array): Buffer {
  const copy = new Uint8Array(new ArrayBuffer(bytes.length));
  copy.set(bytes);
  return Buffer.from(copy.buffer, 0, copy.length);
}
