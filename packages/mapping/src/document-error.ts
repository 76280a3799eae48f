/**
 * A document the mapping cannot read at all: `malformed` (not well-formed JSON or XML, nesting
 * past the cap, a record over the size cap) or `mismatch` (well-formed, but not the shape the
 * mapping describes: another root element, no record where the records should be). Either
 * fails the whole poll and changes nothing; a single bad record is a rejection instead.
 */
export class DocumentError extends Error {
  override readonly name = 'DocumentError';
  constructor(
    readonly kind: 'malformed' | 'mismatch',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
