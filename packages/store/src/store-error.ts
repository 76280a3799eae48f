import { constants } from 'node:os';

export const STORE_ERROR_CODES = [
  /** The store cannot be opened or read (permissions, a read-only or full disk, no reader slot). */
  'store_unavailable',
  /** Another process holds the store's writer lock. */
  'store_locked',
  /** The store was written by a different layout version. */
  'store_layout_mismatch',
  'store_write_failed',
  'invalid_record',
] as const;
export type StoreErrorCode = (typeof STORE_ERROR_CODES)[number];

/** A failure of the store, with a stable code; the LMDB or system error, if any, is its `cause`. */
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

const ERRNO_NAMES = new Map<number, string>(
  Object.entries(constants.errno).map(([name, number]) => [number, name]),
);

/**
 * The system cause of an error in one short phrase, e.g. `EACCES: permission denied, open …`:
 * Node's fs errors carry a string code, lmdb's a bare errno, which is named here so that an
 * operator reads EACCES, EROFS or ENOSPC rather than a number.
 */
export function describeCause(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const name =
    typeof code === 'string' ? code : typeof code === 'number' ? ERRNO_NAMES.get(code) : undefined;
  const message = error.message.split('\n')[0] ?? '';
  return name === undefined || message.startsWith(name) ? message : `${name}: ${message}`;
}
