import { describe, expect, it } from 'vitest';
import {
  canonicalWindow,
  isInWindow,
  parseDateTime,
  parseQueryWindow,
  startBounds,
} from '../src/query-window.js';

describe('parseDateTime', () => {
  it.each([
    ['2021-07-21T17:32:28Z', '2021-07-21T17:32:28.000Z'],
    ['2021-07-21t17:32:28z', '2021-07-21T17:32:28.000Z'],
    ['2021-07-21T17:32:28+02:00', '2021-07-21T15:32:28.000Z'],
    ['2021-07-21T17:32:28-05:30', '2021-07-21T23:02:28.000Z'],
    ['2021-07-21T17:32:28', '2021-07-21T17:32:28.000Z'],
    ['2021-07-21', '2021-07-21T00:00:00.000Z'],
    ['2021-07-21T17:32:28.125Z', '2021-07-21T17:32:28.125Z'],
    ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00.000Z'],
    ['0050-06-30T21:00:00Z', '0050-06-30T21:00:00.000Z'],
    ['0001-01-01', '0001-01-01T00:00:00.000Z'],
    // RFC 3339 bounds neither the fraction's digits nor does a parser that stops at 9 agree with it.
    ['2021-01-01T00:00:00.1234567891Z', '2021-01-01T00:00:00.123Z'],
    [`2021-01-01T00:00:00.${'9'.repeat(30)}+01:00`, '2020-12-31T23:00:00.999Z'],
  ])('parses %s', (text, iso) => {
    expect(new Date(parseDateTime(text) ?? Number.NaN).toISOString()).toBe(iso);
  });

  it.each([
    '2021-09-31T00:00:00Z',
    '2021-02-29',
    '2021-07-21T24:00:00Z',
    '2021-07-21T17:60:00Z',
    '2021-07-21T17:32Z',
    '2021-07-21T17:32:28+2:00',
    '2021-07-21T17:32:28+24:00',
    '2021-07-21 17:32:28Z',
    'yesterday',
    '1626888748',
    '',
    `2021-07-21T17:32:28.${'1'.repeat(40)}Z`,
    `2021-07-21T17:32:28.${'1'.repeat(31)}+01:00`,
  ])('rejects %j', (text) => {
    expect(parseDateTime(text)).toBeUndefined();
  });

  it('rounds sub-millisecond digits inward', () => {
    expect(parseDateTime('2021-07-21T00:00:00.0001Z', 'up')).toBe(
      Date.parse('2021-07-21T00:00:00.001Z'),
    );
    expect(parseDateTime('2021-07-21T00:00:00.0009Z', 'down')).toBe(
      Date.parse('2021-07-21T00:00:00.000Z'),
    );
  });
});

describe('parseQueryWindow', () => {
  it('leaves both bounds optional', () => {
    expect(parseQueryWindow(undefined, undefined)).toEqual({
      ok: true,
      window: { startsAt: null, endsAt: null },
    });
  });

  it('accepts equal bounds and refuses reversed ones', () => {
    expect(parseQueryWindow('2021-01-01', '2021-01-01').ok).toBe(true);
    expect(parseQueryWindow('2021-01-02', '2021-01-01')).toMatchObject({
      ok: false,
      error: { code: 'reversed_window', parameter: 'starts_at' },
    });
  });

  it('names the parameter at fault', () => {
    expect(parseQueryWindow('2021-01-01', 'nope')).toMatchObject({
      ok: false,
      error: { parameter: 'ends_at', code: 'invalid_datetime' },
    });
    expect(parseQueryWindow('2021-09-31', undefined)).toMatchObject({
      ok: false,
      error: { parameter: 'starts_at' },
    });
  });
});

describe('isInWindow', () => {
  const w = { startsAt: 100, endsAt: 200 };
  it('is inclusive at both ends', () => {
    expect(isInWindow(w, 100, 200)).toBe(true);
    expect(isInWindow(w, 99, 150)).toBe(false);
    expect(isInWindow(w, 150, 201)).toBe(false);
    expect(isInWindow({ startsAt: null, endsAt: null }, -5, 1e15)).toBe(true);
  });
});

describe('canonicalWindow', () => {
  it('matches exactly the same whole-second events as the window it rounds', () => {
    const seconds = Array.from({ length: 7 }, (_, i) => 10_000 + i * 1000);
    const bounds = [null, 9_999, 10_000, 10_001, 11_500, 12_999, 13_000, 16_001];
    for (const startsAt of bounds) {
      for (const endsAt of bounds) {
        const window = { startsAt, endsAt };
        const canonical = canonicalWindow(window);
        for (const start of seconds) {
          for (const end of seconds.filter((e) => e >= start)) {
            expect(isInWindow(canonical, start, end), JSON.stringify({ window, start, end })).toBe(
              isInWindow(window, start, end),
            );
          }
        }
      }
    }
  });

  it('gives windows that differ only in milliseconds one form', () => {
    expect(canonicalWindow({ startsAt: 1, endsAt: 5_999 })).toEqual({
      startsAt: 1000,
      endsAt: 5000,
    });
    expect(canonicalWindow({ startsAt: 999, endsAt: 5_001 })).toEqual(
      canonicalWindow({ startsAt: 1, endsAt: 5_999 }),
    );
    expect(canonicalWindow({ startsAt: null, endsAt: null })).toEqual({
      startsAt: null,
      endsAt: null,
    });
  });
});

describe('startBounds', () => {
  it('covers the start of every event in the window', () => {
    const window = { startsAt: 100, endsAt: 200 };
    const { from, to } = startBounds(window);
    for (let start = 50; start <= 250; start += 10) {
      for (let end = start; end <= 260; end += 10) {
        if (isInWindow(window, start, end)) {
          expect(start).toBeGreaterThanOrEqual(from!);
          expect(start).toBeLessThanOrEqual(to!);
        }
      }
    }
  });
});
