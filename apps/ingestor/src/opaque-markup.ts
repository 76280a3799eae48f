/**
 * Stretches of an XML text whose content is not markup: comments, CDATA sections, processing
 * instructions and DOCTYPE declarations. A tag spelled inside one (`<!-- old: </base_plan> -->`)
 * is text, not an element boundary: whoever looks for boundaries by searching bytes must step
 * over them. Attribute values need no stepping over for `<…` searches, since `<` is not allowed
 * in one; text cannot hold a `<` either. Works on Buffers and on latin1 strings alike (every
 * delimiter is ASCII).
 */
const OPENERS: ReadonlyArray<readonly [open: string, close: string]> = [
  ['<!--', '-->'],
  ['<![CDATA[', ']]>'],
  ['<?', '?>'],
];

type Text = Buffer | string;

/** Where the next opaque stretch starts at or after `from`, or -1. */
export function nextOpaque(text: Text, from: number): number {
  const bang = text.indexOf('<!', from);
  const question = text.indexOf('<?', from);
  if (bang === -1) return question;
  if (question === -1) return bang;
  return Math.min(bang, question);
}

/**
 * The delimiter that closes the stretch opening at `at`; undefined while the text ends before
 * it can be told which stretch it is. A DOCTYPE (refused later as a whole, and only ever in the
 * prolog) is taken to end at its first `>`: near enough for finding the first element.
 */
function closingOf(text: Text, at: number): string | undefined {
  for (const [open, close] of OPENERS) if (startsWith(text, open, at)) return close;
  const rest = prefixAt(text, at, 9);
  return OPENERS.some(([open]) => open.startsWith(rest)) ? undefined : '>';
}

/** Where the opaque stretch starting at `at` ends (just past it), or -1 if not within `text`. */
export function endOfOpaque(text: Text, at: number): number {
  const close = closingOf(text, at);
  if (close === undefined) return -1;
  const end = text.indexOf(close, at + 2);
  return end === -1 ? -1 : end + close.length;
}

function prefixAt(text: Text, at: number, length: number): string {
  return typeof text === 'string'
    ? text.slice(at, at + length)
    : text.subarray(at, at + length).toString('latin1');
}

function startsWith(text: Text, prefix: string, at: number): boolean {
  return prefixAt(text, at, prefix.length) === prefix;
}

/**
 * Calls `visit` with each occurrence of `needle` in markup (outside opaque stretches) from
 * `from` on, in order, until the text ends or an opaque stretch is still open at its end.
 */
export function forEachInMarkup(
  text: Text,
  needle: Text,
  from: number,
  visit: (at: number) => void,
): void {
  let position = from;
  let opaque = nextOpaque(text, position);
  for (;;) {
    const at = text.indexOf(needle as never, position);
    if (at === -1) return;
    if (opaque !== -1 && opaque < at) {
      const end = endOfOpaque(text, opaque);
      if (end === -1) return;
      position = end;
      opaque = nextOpaque(text, position);
      continue;
    }
    visit(at);
    position = at + needle.length;
  }
}

/** Longest opener: what a piece must keep of the last one to see an opener split across them. */
const KEEP = 16;

/**
 * Finds the first match of a global `pattern` (at most KEEP characters long) in markup, over text
 * that arrives in pieces (latin1 strings), scanning each character once: a stretch still open at
 * the end of a piece is remembered by its closing delimiter, not rescanned.
 */
export class HeadScan {
  /** Characters of earlier pieces before `kept`. */
  private offset = 0;
  private kept = '';
  private closing: string | undefined;

  constructor(private readonly pattern: RegExp) {}

  /** Scans one more piece; returns the match's absolute position and first group once found. */
  push(piece: string): { at: number; name: string } | undefined {
    const text = this.kept + piece;
    const base = this.offset;
    let position = 0;
    const keepFrom = (from: number): undefined => {
      const start = Math.max(from, text.length - KEEP);
      this.kept = text.slice(start);
      this.offset = base + start;
      return undefined;
    };
    for (;;) {
      if (this.closing !== undefined) {
        const end = text.indexOf(this.closing, position);
        if (end === -1) return keepFrom(Math.max(position, text.length - this.closing.length));
        position = end + this.closing.length;
        this.closing = undefined;
      }
      this.pattern.lastIndex = position;
      const match = this.pattern.exec(text);
      const opaque = nextOpaque(text, position);
      if (match !== null && (opaque === -1 || match.index < opaque)) {
        return { at: base + match.index, name: match[1] ?? '' };
      }
      if (opaque === -1) return keepFrom(position);
      // Which stretch this is may need more of it than this piece holds.
      const closing = closingOf(text, opaque);
      if (closing === undefined) return keepFrom(opaque);
      this.closing = closing;
      position = opaque + 2;
    }
  }
}
