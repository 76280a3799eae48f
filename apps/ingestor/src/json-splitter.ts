import { type FeedChunk, RUN_BYTES, runEndsIn } from './feed-chunk.js';
import type { SplitterOptions } from './feed-splitter.js';
import { IngestError } from './ingest-error.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

interface Frame {
  array: boolean;
  /** An object's member being read: its key, once read. */
  key: string | undefined;
}

/**
 * Cuts a JSON feed's byte stream into chunks of whole records, for the parse workers to read
 * with `JSON.parse` side by side, as the FeedSplitter does for XML. The records are the items of
 * the array at `keys` (`_embedded.events[*]` is `['_embedded', 'events']`; `[]` is a document
 * that is an array of records). A streaming parser (@streamparser/json) would find the same
 * boundaries only by building every value on this thread, at a third of the speed the feed
 * arrives; this scanner only tracks strings, nesting and the keys on the way to the array. What
 * precedes the array's first record is the head and what follows its last the tail: together
 * (the array emptied) they must be one JSON document, checked at the end. Each chunk carries
 * where runs of its records end (see FeedChunk). Memory is bounded by chunkBytes +
 * maxElementBytes.
 */
export class JsonRecordSplitter {
  /** Bytes received and not yet handed over or set aside, and the offset of the first. */
  private pieces: Buffer[] = [];
  private piecesStart = 0;
  private received = 0;
  private phase: 'head' | 'records' | 'tail' = 'head';
  private readonly frames: Frame[] = [];
  private inString = false;
  private escaped = false;
  /** The key being read in the head, its bytes so far. */
  private keyBytes: number[] | undefined;
  private expectKey = false;
  /** Nesting inside the records array: 0 between records. */
  private depth = 0;
  /** Offsets in the whole feed: the record being read (-1: none), the first not handed over, the end of the last whole one. */
  private recordStart = -1;
  private firstStart = -1;
  private lastEnd = -1;
  private headEnd = -1;
  private headKept = false;
  private tailStart = -1;
  /** Where the next backslash is in the piece being scanned (a cache: strings rarely hold one). */
  private nextSlash = -1;
  private headParts: Buffer[] = [];
  private tailParts: Buffer[] = [];
  private sideBytes = 0;
  /** Offsets in the feed where a run of about runBytes of whole records ends (see FeedChunk). */
  private runEnds: number[] = [];
  records = 0;

  constructor(
    private readonly keys: readonly string[],
    private readonly options: SplitterOptions,
  ) {}

  get head(): Buffer {
    return Buffer.concat(this.headParts);
  }
  get tail(): Buffer {
    return Buffer.concat(this.tailParts);
  }
  /** Whether the records' array was found at all. */
  get found(): boolean {
    return this.phase !== 'head';
  }

  push(piece: Buffer): FeedChunk[] {
    if (this.phase === 'tail') {
      this.keep(this.tailParts, piece);
      return [];
    }
    const at = this.received;
    this.pieces.push(piece);
    this.received += piece.length;
    this.scan(piece, at);
    return this.cut(false);
  }

  end(): FeedChunk[] {
    if (this.phase === 'tail') return [];
    return this.cut(true);
  }

  private scan(piece: Buffer, offset: number): void {
    this.nextSlash = -1;
    let i = 0;
    while (i < piece.length && this.phase === 'head') {
      if (this.inString) {
        i = this.skipString(piece, i);
        continue;
      }
      this.scanHead(piece[i]!, offset + i);
      i++;
    }
    if (this.phase === 'records') this.scanRecords(piece, i, offset);
  }

  /** Steps over string bytes up to and including the closing quote; returns where it stopped. */
  private skipString(piece: Buffer, from: number): number {
    let i = from;
    if (this.keyBytes !== undefined) return this.readKey(piece, from);
    while (i < piece.length) {
      if (this.escaped) {
        this.escaped = false;
        i++;
        continue;
      }
      const quote = piece.indexOf(QUOTE, i);
      if (this.nextSlash !== -2 && this.nextSlash < i) {
        this.nextSlash = piece.indexOf(BACKSLASH, i);
        if (this.nextSlash === -1) this.nextSlash = -2; // none in the rest of this piece
      }
      const slash = this.nextSlash >= 0 ? this.nextSlash : -1;
      if (quote === -1 && slash === -1) return piece.length;
      if (slash !== -1 && (quote === -1 || slash < quote)) {
        this.escaped = true;
        i = slash + 1;
        continue;
      }
      this.inString = false;
      return quote + 1;
    }
    return i;
  }

  private readKey(piece: Buffer, from: number): number {
    const bytes = this.keyBytes!;
    for (let i = from; i < piece.length; i++) {
      const c = piece[i]!;
      if (this.escaped) this.escaped = false;
      else if (c === BACKSLASH) this.escaped = true;
      else if (c === QUOTE) {
        this.inString = false;
        this.frames.at(-1)!.key = JSON.parse(`"${Buffer.from(bytes).toString('utf8')}"`) as string;
        this.keyBytes = undefined;
        return i + 1;
      }
      bytes.push(c);
    }
    return piece.length;
  }

  private scanHead(c: number, at: number): void {
    const top = this.frames.at(-1);
    if (c === QUOTE) {
      this.inString = true;
      if (top !== undefined && !top.array && this.expectKey) {
        this.keyBytes = [];
        this.expectKey = false;
      }
    } else if (c === OPEN_OBJECT) {
      this.frames.push({ array: false, key: undefined });
      this.expectKey = true;
    } else if (c === OPEN_ARRAY) {
      if (this.isRecordsArray()) {
        this.phase = 'records';
        this.headEnd = at + 1;
        return;
      }
      this.frames.push({ array: true, key: undefined });
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      this.frames.pop();
    } else if (c === COMMA) {
      if (top !== undefined && !top.array) this.expectKey = true;
    } else if (c === COLON) {
      this.expectKey = false;
    }
  }

  /** An array opening here is the records' when every frame is an object on the keys' path. */
  private isRecordsArray(): boolean {
    if (this.frames.length !== this.keys.length) return false;
    return this.frames.every((f, i) => !f.array && f.key === this.keys[i]);
  }

  /**
   * Scans the records' bytes from `from` on, until the piece ends or the records' array closes
   * (the rest is then the tail). Most of a feed's bytes pass here, one at a time, so the state
   * lives in locals for the loop (V8 keeps them in registers) and a string's bytes are stepped
   * over in the same loop: records hold many short strings, and an `indexOf` call per string
   * cost more than the bytes it skipped. A record ends before the comma or the array's close
   * that follows it, its trailing whitespace included.
   */
  private scanRecords(piece: Buffer, from: number, offset: number): void {
    let { depth, inString, escaped, recordStart } = this;
    for (let i = from; i < piece.length; i++) {
      const c = piece[i]!;
      if (inString) {
        if (escaped) escaped = false;
        else if (c === BACKSLASH) escaped = true;
        else if (c === QUOTE) inString = false;
        continue;
      }
      if (c <= 0x20) continue;
      const closes = c === CLOSE_OBJECT || c === CLOSE_ARRAY;
      if (depth === 0 && (c === COMMA || closes)) {
        if (recordStart !== -1) this.endRecord(offset + i);
        recordStart = -1;
        if (closes) {
          this.phase = 'tail';
          this.tailStart = offset + i;
          break;
        }
        continue;
      }
      if (depth === 0 && recordStart === -1) {
        // A record starts: an object, an array, a string, a number, true, false or null.
        recordStart = offset + i;
        if (this.firstStart === -1) this.firstStart = recordStart;
      }
      if (c === QUOTE) inString = true;
      else if (c === OPEN_OBJECT || c === OPEN_ARRAY) depth++;
      else if (closes) depth--;
    }
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
    this.recordStart = recordStart;
  }

  private endRecord(at: number): void {
    this.lastEnd = at;
    this.records++;
    const runStart = this.runEnds.at(-1) ?? this.firstStart;
    if (at - runStart >= (this.options.runBytes ?? RUN_BYTES)) this.runEnds.push(at);
  }

  /**
   * A chunk of the records read whole so far once they make about chunkBytes (or the records
   * end); the head and the tail set aside; everything before what is still needed dropped.
   */
  private cut(last: boolean): FeedChunk[] {
    const chunks: FeedChunk[] = [];
    if (!this.headKept) {
      // Head bytes are set aside as they are scanned: every piece before them is gone already.
      const found = this.phase !== 'head';
      this.keep(this.headParts, this.range(this.piecesStart, found ? this.headEnd : this.received));
      this.headKept = found;
      if (!found) {
        this.drop(this.received);
        return chunks;
      }
    }
    const ending = last || this.phase === 'tail';
    if (this.firstStart !== -1 && this.lastEnd > this.firstStart) {
      if (this.lastEnd - this.firstStart >= this.options.chunkBytes || ending) {
        chunks.push(this.chunk(this.firstStart, this.lastEnd));
        // The record being read, if one is, starts the next chunk.
        this.firstStart = this.recordStart;
      }
    }
    if (this.phase === 'tail') {
      this.keep(this.tailParts, this.range(this.tailStart, this.received));
      this.drop(this.received);
      return chunks;
    }
    if (last) {
      this.drop(this.received);
      return chunks;
    }
    this.drop(this.firstStart !== -1 ? this.firstStart : this.received);
    if (this.received - this.piecesStart > this.options.maxElementBytes + this.options.chunkBytes) {
      throw new IngestError(
        'feed_malformed',
        `a record exceeds MAX_ELEMENT_BYTES (${this.options.maxElementBytes} bytes)`,
      );
    }
    return chunks;
  }

  /**
   * The records from `from` to `to` (offsets in the feed) and the run ends between them; a run
   * after the first begins with the comma before its first record.
   */
  private chunk(from: number, to: number): FeedChunk {
    const [runEnds] = runEndsIn(this.runEnds, [[from, to]]);
    this.runEnds = this.runEnds.filter((at) => at > to);
    return { bytes: this.range(from, to), runEnds: runEnds! };
  }

  /** The bytes from `from` to `to` (offsets in the feed), as one buffer of their own. */
  private range(from: number, to: number): Buffer {
    const out = new Uint8Array(new ArrayBuffer(to - from));
    let offset = this.piecesStart;
    let written = 0;
    for (const piece of this.pieces) {
      const start = Math.max(from, offset);
      const end = Math.min(to, offset + piece.length);
      if (start < end) {
        out.set(piece.subarray(start - offset, end - offset), written);
        written += end - start;
      }
      offset += piece.length;
      if (offset >= to) break;
    }
    return Buffer.from(out.buffer, 0, out.length);
  }

  /** Forgets the bytes before `until`, whole pieces at a time. */
  private drop(until: number): void {
    while (this.pieces.length > 0 && this.piecesStart + this.pieces[0]!.length <= until) {
      this.piecesStart += this.pieces.shift()!.length;
    }
  }

  /** Head and tail are kept whole for the envelope check: they too are capped. */
  private keep(parts: Buffer[], bytes: Buffer): void {
    this.sideBytes += bytes.length;
    if (this.sideBytes > this.options.maxElementBytes) {
      throw new IngestError(
        'feed_malformed',
        `more than MAX_ELEMENT_BYTES (${this.options.maxElementBytes} bytes) outside the records`,
      );
    }
    if (bytes.length > 0) parts.push(bytes);
  }
}
