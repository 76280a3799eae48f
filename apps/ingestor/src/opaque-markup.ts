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

/** Where the opaque stretch starting at `at` ends (just past it), or -1 if not within `text`. */
export function endOfOpaque(text: Text, at: number): number {
  for (const [open, close] of OPENERS) {
    if (startsWith(text, open, at)) {
      const end = text.indexOf(close, at + open.length);
      return end === -1 ? -1 : end + close.length;
    }
  }
  // `<!DOCTYPE …>`, with an internal subset `[…]` that may hold `>`s of its own.
  const gt = text.indexOf('>', at);
  const bracket = text.indexOf('[', at);
  if (bracket !== -1 && (gt === -1 || bracket < gt)) {
    const close = text.indexOf(']', bracket);
    if (close === -1) return -1;
    const end = text.indexOf('>', close);
    return end === -1 ? -1 : end + 1;
  }
  return gt === -1 ? -1 : gt + 1;
}

function startsWith(text: Text, prefix: string, at: number): boolean {
  return typeof text === 'string'
    ? text.startsWith(prefix, at)
    : text.subarray(at, at + prefix.length).toString('latin1') === prefix;
}

/**
 * Calls `visit` with each occurrence of `needle` in markup (outside opaque stretches) from
 * `from` on, until it returns false. Returns false if an opaque stretch is still open at the
 * end of `text` (more text is needed to know what follows), true otherwise.
 */
export function forEachInMarkup(
  text: Text,
  needle: Text,
  from: number,
  visit: (at: number) => boolean,
): boolean {
  let position = from;
  let opaque = nextOpaque(text, position);
  for (;;) {
    const at = text.indexOf(needle as never, position);
    if (at === -1) return opaque === -1 || endOfOpaque(text, opaque) !== -1;
    if (opaque !== -1 && opaque < at) {
      const end = endOfOpaque(text, opaque);
      if (end === -1) return false;
      position = end;
      opaque = nextOpaque(text, position);
      continue;
    }
    if (!visit(at)) return true;
    position = at + needle.length;
  }
}

/** The first match of a global `pattern` in markup from `from` on, or null. */
export function firstMatchInMarkup(
  text: string,
  pattern: RegExp,
  from = 0,
): RegExpExecArray | null {
  let position = from;
  let opaque = nextOpaque(text, position);
  for (;;) {
    pattern.lastIndex = position;
    const match = pattern.exec(text);
    if (match === null) return null;
    if (opaque === -1 || opaque > match.index) return match;
    const end = endOfOpaque(text, opaque);
    if (end === -1) return null;
    position = end;
    opaque = nextOpaque(text, position);
  }
}
