/**
 * Why a poll failed. Stable codes: they are logged, stored in the store's state for /ready,
 * and counted. A poll that fails for any of these reasons writes no event. Only the `provider_*`
 * and `feed_*` codes (and `unsupported_encoding`) blame the partner; the others are ours.
 */
export const INGEST_ERROR_CODES = [
  'provider_unreachable',
  'provider_timeout',
  'provider_status',
  'provider_rate_limited',
  'feed_not_xml',
  /** A JSON feed answered with HTML or XML (by its Content-Type). */
  'feed_not_json',
  'feed_too_large',
  /** The document itself is at fault: not well-formed, wrong root, an element over the cap. */
  'feed_malformed',
  /** A mapped feed's document is sound but not the shape its mapping describes (another root, no records). */
  'feed_mismatch',
  'feed_interrupted',
  'unsupported_encoding',
  /** The store could not be read (a lock, no reader slot, a closed environment). */
  'store_unavailable',
  /** A write or commit failed (disk full, map full, I/O error). */
  'store_write_failed',
  /** Cluster mode: NATS could not take the leader's batch or state (it is unreachable). */
  'replication_unavailable',
  /** A parse worker thread died (out of memory, a crash) rather than refusing the document. */
  'parse_worker_failed',
  /** Anything else: a bug. Logged with its stack. */
  'internal_error',
  /** Shutdown cut the poll short: says nothing about the partner, not recorded as a failure. */
  'aborted',
] as const;

export type IngestErrorCode = (typeof INGEST_ERROR_CODES)[number];

/** Failures of the store: enough of them in a row and the ingestor exits for its supervisor. */
export const STORE_FAILURE_CODES: ReadonlySet<IngestErrorCode> = new Set([
  'store_unavailable',
  'store_write_failed',
]);

export class IngestError extends Error {
  override readonly name = 'IngestError';
  readonly retryAfterMs: number | undefined;
  constructor(
    readonly code: IngestErrorCode,
    message: string,
    options?: { cause?: unknown; retryAfterMs?: number | undefined },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.retryAfterMs = options?.retryAfterMs;
  }
}
