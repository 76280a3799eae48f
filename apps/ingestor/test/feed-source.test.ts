import { xxh3 } from '@node-rs/xxhash';
import { NORMALIZATION_VERSION } from '@tessera/core';
import { BUILT_IN_FORMAT } from '@tessera/mapping';
import { createRandom } from '@tessera/simulator';
import { describe, expect, it } from 'vitest';
import { feedSource, type SourceSettings } from '../src/feed-source.js';

/** Seeds the bodies and how they are cut into pieces; printed in the test name, SOURCE_SEED reruns one. */
const SOURCE_SEED = Number(process.env.SOURCE_SEED ?? Date.now() % 1_000_000);

async function* piecesOf(body: Buffer, random: () => number): AsyncGenerator<Buffer> {
  for (let at = 0; at < body.length; ) {
    const length = 1 + Math.floor(random() * 200_000);
    yield body.subarray(at, at + length);
    at += length;
  }
}

describe(`a feed's digest (seed ${SOURCE_SEED})`, () => {
  it('is XXH3-128 of its settings and its whole body, however the body arrives', async () => {
    const random = createRandom(SOURCE_SEED);
    for (let round = 0; round < 8; round++) {
      const body = Buffer.alloc(Math.floor(random() * 2_000_000));
      for (let i = 0; i < body.length; i++) body[i] = Math.floor(random() * 256);
      const settings: SourceSettings = {
        provider: `partner-${round}`,
        timeZone: 'Europe/Madrid',
        format: BUILT_IN_FORMAT,
        chunkBytes: 1 << 20,
        maxElementBytes: 1 << 20,
      };
      const stats = { bytes: 0, fetchMs: 0, splitMs: 0 };
      // A stream plan passes the bytes on unchecked, so any body will do.
      const source = await feedSource(
        settings,
        { mapping: undefined, plan: undefined },
        { body: piecesOf(body, random), charset: null },
        stats,
      );
      for await (const _ of source.chunks);
      const prefix = `${settings.provider}\u0000${settings.timeZone}\u0000${NORMALIZATION_VERSION}\u0000`;
      // The reference: another implementation of XXH3 (Rust, through napi), over it all at once.
      const expected = xxh3.xxh128(Buffer.concat([Buffer.from(prefix), body]));
      expect(source.digest(), `round ${round}, ${body.length} bytes`).toBe(
        expected.toString(16).padStart(32, '0'),
      );
      expect(stats.bytes).toBe(body.length);
    }
  });
});
