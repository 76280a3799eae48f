import { OPERATOR_ERRORS } from '@tessera/operator';

/**
 * The API's error catalogue. `code` is part of the contract; `message` is for people. The admin
 * port answers an operator action that was not done with the operator catalogue's own code and
 * status (see @tessera/operator).
 */
export const API_ERRORS = {
  invalid_parameter: 400,
  /** A request HTTP itself forbids: a missing, repeated or invalid Host, or one that cannot be parsed. */
  bad_request: 400,
  /** An operator action without the admin token, or with another. */
  unauthorized: 401,
  not_found: 404,
  /** A change token older than the change log's retention: list /search again. */
  changes_expired: 410,
  method_not_allowed: 405,
  /** The request did not arrive whole within the server's limits (REQUEST_TIMEOUT_MS). */
  request_timeout: 408,
  /** A body past what the server reads (it serves no request with one). */
  content_too_large: 413,
  /** A request line longer than the server's limit on the request head. */
  uri_too_long: 414,
  /** Headers past the server's limit on the request head (16 KiB). */
  headers_too_large: 431,
  internal_error: 500,
  store_unavailable: 503,
  /** /ready before the store holds a single applied feed. */
  not_ready: 503,
  /** Cluster mode: this node's content differs from the cluster's; it is re-syncing on its own. */
  state_diverged: 503,
  /** Uncached /search work, or change subscribers, past the per-process bound; answered with Retry-After. */
  overloaded: 503,
  ...OPERATOR_ERRORS,
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  readonly retryAfterSeconds: number | undefined;
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.status = API_ERRORS[code];
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}
