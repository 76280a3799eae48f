import { IngestError } from './ingest-error.js';

/** How many bytes may precede the end of the XML declaration: it is the first thing in a feed. */
const DECLARATION_BYTES = 1024;
const DECLARED = /^<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z0-9._:-]+)["']/;

type Decoding = 'utf8' | 'latin1' | 'windows-1252' | 'utf-16le' | 'utf-16be';

/** Encodings read, by every label (lower case) a partner may write for them. */
const LABELS: Record<string, Decoding> = {
  'utf-8': 'utf8',
  utf8: 'utf8',
  // ASCII is UTF-8's first half: the bytes pass as they are (and are checked as UTF-8).
  'us-ascii': 'utf8',
  ascii: 'utf8',
  'iso-8859-1': 'latin1',
  'iso_8859-1': 'latin1',
  latin1: 'latin1',
  'latin-1': 'latin1',
  l1: 'latin1',
  'windows-1252': 'windows-1252',
  cp1252: 'windows-1252',
  'x-cp1252': 'windows-1252',
  'utf-16': 'utf-16le',
  'utf-16le': 'utf-16le',
  'utf-16be': 'utf-16be',
};

/**
 * Turns the feed's bytes into UTF-8 as they arrive, whatever the partner encoded them in: the
 * byte-order mark, else the XML declaration's `encoding`, else the Content-Type charset, else
 * UTF-8 (XML's default). UTF-8 with or without a BOM, US-ASCII, ISO-8859-1, windows-1252 and
 * UTF-16 with a BOM are read; anything else is `unsupported_encoding`, naming it. Everything
 * downstream (the splitter, the workers, the store) sees UTF-8 only.
 */
export class FeedDecoder {
  private head: Buffer[] = [];
  private headBytes = 0;
  private decode: ((piece: Buffer, last: boolean) => Buffer) | undefined;
  /** The encoding the feed was read in, once known. */
  encoding: string | undefined;

  constructor(private readonly charset: string | null) {}

  push(piece: Buffer): Buffer {
    if (this.decode !== undefined) return this.decode(piece, false);
    this.head.push(piece);
    this.headBytes += piece.length;
    const head = Buffer.concat(this.head);
    if (this.headBytes < DECLARATION_BYTES && !head.includes('?>') && !bomOf(head)) return EMPTY;
    return this.start(head, false);
  }

  end(): Buffer {
    if (this.decode !== undefined) return this.decode(EMPTY, true);
    return this.start(Buffer.concat(this.head), true);
  }

  private start(head: Buffer, last: boolean): Buffer {
    this.head = [];
    const bom = bomOf(head);
    const label = (
      bom ??
      DECLARED.exec(head.subarray(0, DECLARATION_BYTES).toString('latin1'))?.[1] ??
      this.charset ??
      'utf-8'
    ).toLowerCase();
    const decoding = LABELS[label];
    if (decoding === undefined) {
      throw new IngestError(
        'unsupported_encoding',
        `the feed is encoded in ${label}: Tessera reads UTF-8, US-ASCII, ISO-8859-1, windows-1252 and UTF-16 with a byte-order mark`,
      );
    }
    this.encoding = label;
    this.decode = decoderFor(decoding);
    const skip = bom === 'utf-8' ? 3 : 0;
    return this.decode(head.subarray(skip), last);
  }
}

const EMPTY = Buffer.alloc(0);

function bomOf(head: Buffer): string | undefined {
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) return 'utf-8';
  if (head[0] === 0xff && head[1] === 0xfe) return 'utf-16le';
  if (head[0] === 0xfe && head[1] === 0xff) return 'utf-16be';
  return undefined;
}

function decoderFor(decoding: Decoding): (piece: Buffer, last: boolean) => Buffer {
  if (decoding === 'utf8') return (piece) => piece;
  // Every byte is one character: no state across pieces.
  if (decoding === 'latin1') return (piece) => Buffer.from(piece.toString('latin1'), 'utf8');
  // The WHATWG decoders (Node's ICU) keep a character split across pieces for the next one; a
  // byte they cannot map is a document fault, not a U+FFFD in a title.
  const decoder = new TextDecoder(decoding, { fatal: true, ignoreBOM: false });
  return (piece, last) => {
    try {
      return Buffer.from(decoder.decode(piece, { stream: !last }), 'utf8');
    } catch (cause) {
      throw new IngestError('feed_malformed', `the feed is not valid ${decoding}`, { cause });
    }
  };
}
