import { createHash } from 'node:crypto';
import { createRandom } from '@tessera/simulator';
import { describe, expect, it } from 'vitest';
import { encodeEventValue, encodeRecord, recordDigest } from '../src/layout.js';

const SEED = Number(process.env.DIGEST_SEED ?? 31);

/** The stored value as layout.ts defines it, built here apart: the end as a float64 LE, then the summary's UTF-8. */
function definedValue(endsAt: number, summary: string): Buffer {
  const end = Buffer.alloc(8);
  end.writeDoubleLE(endsAt);
  return Buffer.concat([end, Buffer.from(summary, 'utf8')]);
}

/**
 * The digest as layout.ts defines it, written the plain way: SHA-256 fed the id, NUL, the start
 * in decimal, NUL, then the stored value, its first 128 bits in base64url. Every store written
 * so far holds digests made this way, and every node of a cluster compares them: a faster
 * encoding must give exactly these.
 */
function definedDigest(r: { id: string; startsAt: number; endsAt: number; summary: string }) {
  return createHash('sha256')
    .update(`${r.id}\u0000${r.startsAt}\u0000`)
    .update(definedValue(r.endsAt, r.summary))
    .digest('base64url')
    .slice(0, 22);
}

/** A UUID-shaped id drawn from the seeded generator, so that a failing case comes back with its seed. */
function uuid(random: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Text with ASCII, two-, three- and four-byte UTF-8 characters and JSON's escapes. */
function text(random: () => number, length: number): string {
  const alphabet = ['a', 'Z', '0', ' ', '"', '\\', 'é', 'ñ', '€', '東', '😀', '\u0000', '\n'];
  return Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
}

describe(`a record's digest and stored value (DIGEST_SEED=${SEED})`, () => {
  it('are the digest and the value as defined, for generated records', () => {
    const random = createRandom(SEED);
    for (let i = 0; i < 2_000; i++) {
      const startsAt = Math.floor(random() * 4e12) - 1e12;
      const record = {
        id: random() < 0.9 ? uuid(random) : text(random, 1 + Math.floor(random() * 40)),
        startsAt,
        endsAt: startsAt + Math.floor(random() * 1e9),
        summary: JSON.stringify({ title: text(random, Math.floor(random() * 300)), i }),
      };
      const encoded = encodeRecord(record);
      expect(encoded.digest, `record ${i}: ${JSON.stringify(record)}`).toBe(definedDigest(record));
      expect(recordDigest(record)).toBe(encoded.digest);
      const value = definedValue(record.endsAt, record.summary);
      expect(Buffer.compare(encoded.value, value)).toBe(0);
      expect(Buffer.compare(encodeEventValue(record.endsAt, record.summary), value)).toBe(0);
    }
  });
});
