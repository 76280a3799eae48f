import { describe, expect, it } from 'vitest';
import { daysFromCivil, utcMillis } from '../src/calendar.js';

describe('daysFromCivil', () => {
  it('agrees with Date.UTC wherever Date.UTC is right (years from 100 on)', () => {
    for (const year of [100, 400, 1582, 1900, 1970, 2000, 2021, 2024, 2100, 9999]) {
      for (const [month, day] of [
        [1, 1],
        [2, 28],
        [3, 1],
        [12, 31],
      ] as const) {
        expect(daysFromCivil(year, month, day) * 86_400_000).toBe(Date.UTC(year, month - 1, day));
      }
    }
  });

  it('counts every day from year 1 on, leap days included', () => {
    let previous = daysFromCivil(1, 1, 1);
    for (let year = 1; year < 500; year++) {
      const next = daysFromCivil(year + 1, 1, 1);
      const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
      expect(next - previous).toBe(leap ? 366 : 365);
      previous = next;
    }
  });

  it('gives exact instants for years 1–99', () => {
    const expected = new Date(0);
    expected.setUTCFullYear(7, 2, 4);
    expected.setUTCHours(5, 6, 7, 0);
    expect(utcMillis(7, 3, 4, 5, 6, 7)).toBe(expected.getTime());
  });
});
