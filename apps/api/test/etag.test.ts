import { describe, expect, it } from 'vitest';
import { matchesIfNoneMatch } from '../src/etag.js';

describe('matchesIfNoneMatch', () => {
  it.each([
    ['"a"', true],
    ['W/"a"', true],
    ['"b", "a"', true],
    ['*', true],
    ['"b"', false],
    ['', false],
    ['a', false],
  ])('%j against "a" is %s', (header, expected) => {
    expect(matchesIfNoneMatch(header, '"a"')).toBe(expected);
  });

  it('is false without the header', () => {
    expect(matchesIfNoneMatch(undefined, '"a"')).toBe(false);
  });
});
