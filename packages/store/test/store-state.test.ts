import { describe, expect, it } from 'vitest';
import { INITIAL_STATE, nextState } from '../src/store-state.js';

const validators = { urlDigest: 'u', etag: '"e"', lastModified: null, hash: 'h' };
const counts = { inserted: 1, updated: 0, moved: 0, unchanged: 2 };

describe('nextState', () => {
  it('records an applied feed: success, change, counts, validators, failures reset', () => {
    const failed = nextState(INITIAL_STATE, {
      ok: false,
      at: 1,
      code: 'provider_status',
      message: '503',
    });
    expect(nextState(failed, { ok: true, at: 2, validators, counts })).toEqual({
      validators,
      lastAttemptAt: 2,
      lastSuccessAt: 2,
      lastChangeAt: 2,
      lastErrorCode: null,
      lastErrorMessage: null,
      consecutiveFailures: 0,
      failingSince: null,
      lastCounts: counts,
    });
  });

  it('remembers since when a run of failures lasts, until a success ends it', () => {
    const fail = (at: number) => ({
      ok: false as const,
      at,
      code: 'provider_timeout',
      message: 't',
    });
    const twice = nextState(nextState(INITIAL_STATE, fail(10)), fail(20));
    expect(twice).toMatchObject({ consecutiveFailures: 2, failingSince: 10, lastAttemptAt: 20 });
    const ok = nextState(twice, { ok: true, at: 30, validators, counts });
    expect(ok.failingSince).toBeNull();
    expect(nextState(ok, fail(40)).failingSince).toBe(40);
  });

  it('does not move lastChangeAt for a feed that changed nothing', () => {
    const applied = nextState(INITIAL_STATE, { ok: true, at: 1, validators, counts });
    const same = { inserted: 0, updated: 0, moved: 0, unchanged: 3 };
    expect(nextState(applied, { ok: true, at: 5, validators, counts: same })).toMatchObject({
      lastSuccessAt: 5,
      lastChangeAt: 1,
      lastCounts: same,
    });
    // A 304 keeps the validators and counts it had.
    expect(nextState(applied, { ok: true, at: 6 })).toMatchObject({
      lastSuccessAt: 6,
      lastChangeAt: 1,
      validators,
      lastCounts: counts,
    });
  });

  it('counts consecutive failures and keeps the last success', () => {
    const applied = nextState(INITIAL_STATE, { ok: true, at: 1, validators, counts });
    const once = nextState(applied, {
      ok: false,
      at: 2,
      code: 'provider_timeout',
      message: 'slow',
    });
    const twice = nextState(once, { ok: false, at: 3, code: 'feed_malformed', message: 'bad' });
    expect(twice).toMatchObject({
      lastAttemptAt: 3,
      lastSuccessAt: 1,
      lastErrorCode: 'feed_malformed',
      lastErrorMessage: 'bad',
      consecutiveFailures: 2,
      validators,
    });
  });
});
