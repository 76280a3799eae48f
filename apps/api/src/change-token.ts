import { createHash } from 'node:crypto';
import type { ChangePosition } from '@tessera/store';
import { ApiError } from './api-error.js';

const FORMAT = 1;
/** format (1), version (float64), seq (uint32), then the tag. */
const PAYLOAD_BYTES = 13;
const TAG_BYTES = 8;
const TOKEN_BYTES = PAYLOAD_BYTES + TAG_BYTES;

/**
 * Change tokens: a position in the change log, opaque to consumers, tagged with a hash of the
 * store id. Every node of a cluster shares the store id (its dataset id) and names changes by
 * the same positions, and nothing here is per process, so a token works on every process and
 * node and after restarts. The tag is no secret (a forged token only names another position);
 * it makes a token of another dataset, or one altered or cut short, a `400 invalid_parameter`
 * rather than a silent jump in the log.
 */
export function issueChangeToken(storeId: string, position: ChangePosition): string {
  const payload = Buffer.alloc(PAYLOAD_BYTES);
  payload.writeUInt8(FORMAT, 0);
  payload.writeDoubleBE(position[0], 1);
  payload.writeUInt32BE(position[1], 9);
  return Buffer.concat([payload, tagOf(storeId, payload)]).toString('base64url');
}

/** The position a token names; throws `invalid_parameter` for anything this store did not issue. */
export function openChangeToken(storeId: string, token: string): ChangePosition {
  const bytes = /^[\w-]+$/.test(token) ? Buffer.from(token, 'base64url') : Buffer.alloc(0);
  // Re-encoding must give the token back: base64url has several spellings of the last bits.
  if (bytes.length !== TOKEN_BYTES || bytes.toString('base64url') !== token) throw refused();
  const payload = bytes.subarray(0, PAYLOAD_BYTES);
  if (!bytes.subarray(PAYLOAD_BYTES).equals(tagOf(storeId, payload)) || payload[0] !== FORMAT) {
    throw refused();
  }
  return [payload.readDoubleBE(1), payload.readUInt32BE(9)];
}

function tagOf(storeId: string, payload: Buffer): Buffer {
  return createHash('sha256')
    .update(`${storeId}\u0000`)
    .update(payload)
    .digest()
    .subarray(0, TAG_BYTES);
}

function refused(): ApiError {
  return new ApiError(
    'invalid_parameter',
    'token is not a change token of this dataset (altered, cut short, or from another deployment or a re-created store): list /search again and follow from its Changes-Token',
  );
}
