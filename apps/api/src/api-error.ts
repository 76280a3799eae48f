/** The API's error catalogue. `code` is part of the contract; `message` is for people. */
export const API_ERRORS = {
  invalid_parameter: 400,
  not_found: 404,
  method_not_allowed: 405,
  internal_error: 500,
  store_unavailable: 503,
  /** /ready before the store holds a single applied feed. */
  not_ready: 503,
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = API_ERRORS[code];
  }
}
