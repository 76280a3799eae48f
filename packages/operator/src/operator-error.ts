/** Why an operator's action was not done. Stable codes: the API answers with them. */
export const OPERATOR_ERRORS = {
  /** No feed of that id is configured on the ingestor (or, in cluster mode, led by any node). */
  unknown_feed: 404,
  /** Poll now on a paused feed: resume it first. */
  feed_paused: 409,
  /** Cluster mode: no node leads the feed now (none configures it, or its lease is passing). */
  no_leader: 503,
  /** The ingestor does not answer on the control socket (not running, or starting). */
  ingestor_unavailable: 503,
  /** The ingestor could not do it (a store write failed, say); its log says why. */
  action_failed: 500,
} as const;
export type OperatorErrorCode = keyof typeof OPERATOR_ERRORS;

export class OperatorError extends Error {
  override readonly name = 'OperatorError';
  readonly status: number;
  constructor(
    readonly code: OperatorErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = OPERATOR_ERRORS[code];
  }
}

export function isOperatorErrorCode(code: unknown): code is OperatorErrorCode {
  return typeof code === 'string' && Object.hasOwn(OPERATOR_ERRORS, code);
}
