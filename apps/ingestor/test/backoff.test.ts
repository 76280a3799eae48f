import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/backoff.js';
import { parseRetryAfter } from '../src/feed-fetcher.js';

const policy = { baseMs: 1_000, maxMs: 300_000 };

describe('backoffDelay', () => {
  it('draws uniformly below an exponential ceiling (full jitter)', () => {
    expect(backoffDelay(policy, 1, undefined, () => 0.999)).toBe(999);
    expect(backoffDelay(policy, 4, undefined, () => 0.5)).toBe(4_000);
    expect(backoffDelay(policy, 4, undefined, () => 0)).toBe(0);
  });

  it('caps the ceiling', () => {
    expect(backoffDelay(policy, 50, undefined, () => 0.999999)).toBeLessThan(300_000);
    expect(backoffDelay(policy, 50, undefined, () => 0.999999)).toBeGreaterThan(299_000);
  });

  it('honours Retry-After up to the cap', () => {
    expect(backoffDelay(policy, 1, 30_000, () => 0)).toBe(30_000);
    expect(backoffDelay(policy, 1, 3_600_000, () => 0)).toBe(300_000);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
