/**
 * Why a poll failed. Stable codes: they are logged, stored in the store's state for /ready,
 * and counted. A poll that fails for any of these reasons writes no event.
 */
export const INGEST_ERROR_CODES = [
  'provider_unreachable',
  'provider_timeout',
  'provider_status',
  'provider_rate_limited',
  'feed_not_xml',
  'feed_too_large',
  'feed_malformed',
  'feed_interrupted',
  'unsupported_encoding',
  'store_write_failed',
  'aborted',
] as const;

export type IngestErrorCode = (typeof INGEST_ERROR_CODES)[number];

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

export function isIngestError(error: unknown): error is IngestError {
  return error instanceof IngestError;
}
