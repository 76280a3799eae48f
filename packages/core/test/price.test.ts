import { describe, expect, it } from 'vitest';
import { PriceRange, parsePrice } from '../src/price.js';

describe('parsePrice', () => {
  it.each([
    ['20.00', 20],
    ['0', 0],
    ['0.5', 0.5],
    ['15', 15],
    ['1234567.891', 1234567.891],
  ])('parses %s', (text, value) => {
    expect(parsePrice(text)).toBe(value);
  });

  it.each(['', '-5.00', 'abc', '1e3', '0x10', ' 7', '7 ', '1,50', '.5', '5.', 'NaN', 'Infinity'])(
    'rejects %j',
    (text) => {
      expect(parsePrice(text)).toBeUndefined();
    },
  );
});

describe('PriceRange', () => {
  it('starts empty, so an event without zones keeps null prices', () => {
    const r = new PriceRange();
    expect([r.min, r.max]).toEqual([null, null]);
  });

  it('folds min and max over every zone, duplicates and zero-capacity zones included', () => {
    const r = new PriceRange();
    for (const p of [75, 65, 65, 80]) r.add(p);
    expect([r.min, r.max]).toEqual([65, 80]);
    r.reset();
    expect([r.min, r.max]).toEqual([null, null]);
  });
});
