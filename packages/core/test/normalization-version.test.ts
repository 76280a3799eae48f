import { createHash } from 'node:crypto';
import { FIXTURE_RESPONSES, FIXTURE_VOCABULARIES, fixturePath } from '@tessera/fixtures';
import { describe, expect, it } from 'vitest';
import { NORMALIZATION_VERSION } from '../src/event.js';
import { createTimeZone } from '../src/wall-clock.js';
import { readFeedFile } from './read-fixture.js';

/**
 * What every fixture feed serializes to, per normalization version. A change that makes this
 * digest move changes what is stored for the same feed bytes: bump NORMALIZATION_VERSION and add
 * its digest here, so that ingestors apply unchanged feeds again after the upgrade.
 */
const PINNED: Record<number, string> = {
  1: '51ec9618192ffdde9edb987ac23ad746bb84ff20db12e76ff8364fb76c89f2ba',
};

function fixtureDigest(): string {
  const hash = createHash('sha256');
  for (const zone of ['UTC', 'Europe/Madrid', 'America/New_York']) {
    const ctx = { provider: 'feverup', timeZone: createTimeZone(zone) };
    for (const vocabulary of FIXTURE_VOCABULARIES) {
      for (const response of FIXTURE_RESPONSES) {
        const reading = readFeedFile(ctx, fixturePath(vocabulary, response));
        hash.update(JSON.stringify([reading.records, reading.rejections]));
      }
    }
  }
  return hash.digest('hex');
}

describe('NORMALIZATION_VERSION', () => {
  it('names what the fixtures serialize to (bump it when this digest moves)', () => {
    expect(
      PINNED[NORMALIZATION_VERSION],
      `records changed: bump NORMALIZATION_VERSION and pin ${fixtureDigest()}`,
    ).toBe(fixtureDigest());
  });
});
