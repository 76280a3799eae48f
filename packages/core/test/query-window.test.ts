import { describe, expect, it } from 'vitest';
import { isInWindow, parseDateTime, parseQueryWindow } from '../src/query-window.js';

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
