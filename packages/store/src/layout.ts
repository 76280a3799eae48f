import { createHash } from 'node:crypto';

/**
 * The LMDB layout, in one place. One environment (a directory, `DATA_DIR`) holds three named
 * databases:
 *
 * | db       | key                         | value                                              |
 * |----------|-----------------------------|----------------------------------------------------|
 * | `events` | `[startsAt, id]`            | 8 bytes: endsAt (float64 LE), then the EventSummary JSON (UTF-8) |
 * | `ids`    | `id`                        | `[startsAt, digest]`: the event's current key, and a digest of its value |
 * | `meta`   | `'version'`, `'state'`      | store version (number); StoreState (msgpack)       |
 *
 * `events` keys use lmdb's ordered-binary encoding: arrays order element by element, numbers
 * numerically, so a range scan from `[startsAt]` to `[endsAt + 1]` walks events in start order
 * and the id breaks ties between events starting at the same instant. Instants are whole
 * milliseconds, which is what makes `endsAt + 1` an exact exclusive bound.
 *
 * The value carries the end instant in front of the pre-serialized JSON so that the end bound is
 * checked without parsing, and the JSON is served by copying bytes.
 *
 * `ids` exists so that an event whose start changes moves to its new key instead of leaving a
 * stale copy at the old one, and so that "is this record unchanged?" is answered from the small
 * ids pages (the digest is SHA-256 of the stored value, truncated to 128 bits) without reading
 * the event.
 *
 * `version` increases by one with every write that changed an event; the API keys its response
 * cache and ETags on it.
 */
export const EVENTS_DB = 'events';
export const IDS_DB = 'ids';
export const META_DB = 'meta';
export const VERSION_KEY = 'version';
export const STATE_KEY = 'state';

export type EventKey = [startsAt: number, id: string];

export const END_PREFIX_BYTES = 8;

export type IdEntry = [startsAt: number, digest: string];

/** 128 bits of SHA-256 over exactly what `events` would store for the record. */
export function valueDigest(record: { endsAt: number; summary: string }): string {
  return createHash('sha256')
    .update(encodeEventValue(record.endsAt, record.summary))
    .digest('base64url')
    .slice(0, 22);
}

export function eventKey(startsAt: number, id: string): EventKey {
  return [startsAt, id];
}

export function encodeEventValue(endsAt: number, summary: string): Buffer {
  const size = Buffer.byteLength(summary, 'utf8');
  const value = Buffer.allocUnsafe(END_PREFIX_BYTES + size);
  value.writeDoubleLE(endsAt, 0);
  value.write(summary, END_PREFIX_BYTES, 'utf8');
  return value;
}

export function decodeEnd(value: Uint8Array): number {
  return Buffer.from(value.buffer, value.byteOffset, END_PREFIX_BYTES).readDoubleLE(0);
}

export function summaryBytes(value: Buffer): Buffer {
  return value.subarray(END_PREFIX_BYTES);
}
