export const STORE_ERROR_CODES = [
  'store_unavailable',
  'store_write_failed',
  'invalid_record',
] as const;
export type StoreErrorCode = (typeof STORE_ERROR_CODES)[number];

/** A failure of the store, with a stable code; the LMDB error, if any, is kept as `cause`. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
