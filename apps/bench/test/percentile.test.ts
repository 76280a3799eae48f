import { describe, expect, it } from 'vitest';
import { median, nearestRank } from '../src/percentile.js';

const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('nearestRank', () => {
  it('is the smallest value a share of the values do not exceed, counted by hand', () => {
    expect(nearestRank(oneTo(10), 0.5)).toBe(5);
    expect(nearestRank(oneTo(10), 0.9)).toBe(9);
    expect(nearestRank(oneTo(10), 0.91)).toBe(10);
    expect(nearestRank(oneTo(10), 0)).toBe(1);
    expect(nearestRank(oneTo(10), 1)).toBe(10);
    expect(nearestRank([], 0.99)).toBe(0);
  });

  it('makes the p99 of 24 samples their largest, and of 102 the one below it', () => {
    expect(nearestRank(oneTo(24), 0.99)).toBe(24);
    expect(nearestRank(oneTo(100), 0.99)).toBe(99);
    expect(nearestRank(oneTo(102), 0.99)).toBe(101);
  });
});

describe('median', () => {
  it('is the middle value of an odd count, whatever the order', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([7])).toBe(7);
  });

  it('is the mean of the two middle values of an even count, not the upper one', () => {
    // Four rounds of a ratio: the upper middle alone would report 1.27 for rounds centred on 1.05.
    expect(median([0.8, 0.83, 1.27, 1.3])).toBeCloseTo(1.05, 10);
    expect(median(oneTo(8))).toBe(4.5);
    expect(median([])).toBeNaN();
  });
});
