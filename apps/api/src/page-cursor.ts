import { createHmac, timingSafeEqual } from 'node:crypto';
import type { QueryWindow } from '@tessera/core';
import type { ScanPosition } from '@tessera/store';
import { ApiError } from './api-error.js';

/** A cursor is well under this; anything longer is refused before it is decoded. */
export const MAX_CURSOR_LENGTH = 512;

const FORMAT = 1;
const MAC_BYTES = 16;
/** format (1), movedSince (8), startsAt (8), then the id (UTF-8), then the MAC. */
const FIXED_BYTES = 17;

/**
 * Page cursors: where the next page resumes (the last key served, and the version of the first
 * page, see ScanPosition), opaque to clients and authenticated by an HMAC that also binds the
 * store id and the window. A cursor altered by one byte, cut short, made for another window or
 * by another store (another deployment, or a store re-created since) is refused as
 * `invalid_parameter`: a client never gets a page of something it did not ask for.
 */
export interface PageCursors {
  issue(storeId: string, window: QueryWindow, position: ScanPosition): string;
  /** The position a cursor names; throws `invalid_parameter` for any cursor this API did not issue for this store and window. */
  open(storeId: string, window: QueryWindow, cursor: string): ScanPosition;
}

export function createPageCursors(secret: string): PageCursors {
  const mac = (storeId: string, window: QueryWindow, payload: Buffer): Buffer =>
    createHmac('sha256', secret)
      .update(`${storeId}\u0000${window.startsAt ?? ''}\u0000${window.endsAt ?? ''}\u0000`)
      .update(payload)
      .digest()
      .subarray(0, MAC_BYTES);

  return {
    issue(storeId, window, { after, movedSince }) {
      const id = Buffer.from(after[1], 'utf8');
      const payload = Buffer.alloc(FIXED_BYTES + id.length);
      payload.writeUInt8(FORMAT, 0);
      payload.writeDoubleBE(movedSince, 1);
      payload.writeDoubleBE(after[0], 9);
      id.copy(payload, FIXED_BYTES);
      return Buffer.concat([payload, mac(storeId, window, payload)]).toString('base64url');
    },

    open(storeId, window, cursor) {
      const bytes = /^[\w-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url') : Buffer.alloc(0);
      // Re-encoding must give the cursor back: base64url has several spellings of the last bits.
      if (bytes.length < FIXED_BYTES + MAC_BYTES || bytes.toString('base64url') !== cursor) {
        throw refused();
      }
      const payload = bytes.subarray(0, bytes.length - MAC_BYTES);
      const given = bytes.subarray(bytes.length - MAC_BYTES);
      if (!timingSafeEqual(given, mac(storeId, window, payload)) || payload[0] !== FORMAT) {
        throw refused();
      }
      return {
        movedSince: payload.readDoubleBE(1),
        after: [payload.readDoubleBE(9), payload.subarray(FIXED_BYTES).toString('utf8')],
      };
    },
  };
}

function refused(): ApiError {
  return new ApiError(
    'invalid_parameter',
    'cursor is not one this API issued for this window (or the store was re-created since): start again without it',
  );
}
