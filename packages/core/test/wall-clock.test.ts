import { describe, expect, it } from 'vitest';
import { createTimeZone, parseWallClock } from '../src/wall-clock.js';

describe('parseWallClock', () => {
  it('keeps the provider wall clock as date and time', () => {
    const w = parseWallClock('2021-06-30T21:00:00');
    expect(w).toMatchObject({ date: '2021-06-30', time: '21:00:00', hour: 21 });
  });

  it.each([
    ['2021-09-31T20:00:00', 'September has 30 days'],
    ['2021-02-29T20:00:00', '2021 is not a leap year'],
    ['2021-06-30T24:00:00', 'hour 24'],
    ['2021-06-30T23:60:00', 'minute 60'],
    ['2021-06-30T23:59:60', 'second 60'],
    ['2021-13-01T00:00:00', 'month 13'],
    ['2021-00-01T00:00:00', 'month 0'],
    ['2021-06-00T00:00:00', 'day 0'],
    ['2021-06-30', 'missing time'],
    ['2021-06-30T21:00', 'missing seconds'],
    ['2021-06-30 21:00:00', 'space instead of T'],
    ['2021-06-30T21:00:00Z', 'an offset the provider never sends'],
    ['21-06-30T21:00:00', 'two-digit year'],
    ['', 'empty'],
  ])('rejects %s (%s)', (text) => {
    expect(parseWallClock(text)).toBeUndefined();
  });

  it('accepts February 29th of a leap year', () => {
    expect(parseWallClock('2024-02-29T10:00:00')?.date).toBe('2024-02-29');
    expect(parseWallClock('2000-02-29T10:00:00')?.date).toBe('2000-02-29');
    expect(parseWallClock('1900-02-29T10:00:00')).toBeUndefined();
  });
});

describe('createTimeZone', () => {
  const wall = (text: string) => {
    const w = parseWallClock(text);
    if (w === undefined) throw new Error(`bad fixture ${text}`);
    return w;
  };

  it('reads wall clocks as UTC by default zone name', () => {
    expect(createTimeZone('UTC').toInstant(wall('2021-06-30T21:00:00'))).toBe(
      Date.parse('2021-06-30T21:00:00Z'),
    );
  });

  it('applies the zone offset in force at that moment (summer and winter)', () => {
    const madrid = createTimeZone('Europe/Madrid');
    expect(madrid.toInstant(wall('2021-06-30T21:00:00'))).toBe(Date.parse('2021-06-30T19:00:00Z'));
    expect(madrid.toInstant(wall('2021-01-15T21:00:00'))).toBe(Date.parse('2021-01-15T20:00:00Z'));
  });

  it('resolves the hour after a DST change with the new offset', () => {
    const madrid = createTimeZone('Europe/Madrid');
    // Clocks went from 02:00 to 03:00 on 2021-03-28.
    expect(madrid.toInstant(wall('2021-03-28T03:30:00'))).toBe(Date.parse('2021-03-28T01:30:00Z'));
  });

  it('throws for an unknown zone', () => {
    expect(() => createTimeZone('Mars/Olympus')).toThrow(RangeError);
  });
});
