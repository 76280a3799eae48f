import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { basesForBytes, generateFeed } from '../src/feed-generator.js';

const digest = (options: Parameters<typeof generateFeed>[0]) => {
  const hash = createHash('sha256');
  let bytes = 0;
  for (const b of generateFeed(options)) {
    hash.update(b);
    bytes += b.length;
  }
  return { hash: hash.digest('hex'), bytes };
};

describe('generateFeed', () => {
  it('is deterministic by seed and differs across seeds', () => {
    const a = digest({ bases: 50, seed: 1 });
    expect(digest({ bases: 50, seed: 1 })).toEqual(a);
    expect(digest({ bases: 50, seed: 2 }).hash).not.toBe(a.hash);
  });

  it('streams in bounded batches', () => {
    let largest = 0;
    for (const b of generateFeed({ bases: 2000, zonesPerEvent: 50 }))
      largest = Math.max(largest, b.length);
    expect(largest).toBeLessThan(512 * 1024);
  });

  it('writes the requested shape in either vocabulary', () => {
    const text = Buffer.concat([
      ...generateFeed({
        bases: 3,
        eventsPerBase: 2,
        zonesPerEvent: 4,
        vocabulary: 'event',
        onlineRatio: 1,
      }),
    ]).toString();
    expect(text.startsWith('<?xml')).toBe(true);
    expect(text.match(/<base_event /g)).toHaveLength(3);
    expect(text.match(/<event /g)).toHaveLength(6);
    expect(text.match(/<zone /g)).toHaveLength(24);
    expect(text.trim().endsWith('</eventList>')).toBe(true);
    const plan = Buffer.concat([...generateFeed({ bases: 1, vocabulary: 'plan' })]).toString();
    expect(plan).toContain('<base_plan base_plan_id="1"');
  });

  it('sizes a feed for a byte target within 10%', () => {
    const bases = basesForBytes(2_000_000, { zonesPerEvent: 30 });
    const { bytes } = digest({ bases, zonesPerEvent: 30 });
    expect(Math.abs(bytes - 2_000_000) / 2_000_000).toBeLessThan(0.1);
  });
});
