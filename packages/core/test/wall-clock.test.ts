import { describe, expect, it } from 'vitest';
import { utcMillis } from '../src/calendar.js';
import {
  createTimeZone,
  parseOffsetDateTime,
  parseWallClock,
  type WallClock,
} from '../src/wall-clock.js';

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

describe('createTimeZone around daylight-saving changes (the "compatible" rule)', () => {
  const at = (zone: string, text: string) =>
    new Date(createTimeZone(zone).toInstant(parseWallClock(text)!)).toISOString();

  it.each([
    // Europe/Madrid: 2021-03-28 02:00 CET → 03:00 CEST; 2021-10-31 03:00 CEST → 02:00 CET.
    [
      'Europe/Madrid',
      '2021-03-28T01:59:59',
      '2021-03-28T00:59:59.000Z',
      'last second before the gap',
    ],
    [
      'Europe/Madrid',
      '2021-03-28T02:00:00',
      '2021-03-28T01:00:00.000Z',
      'gap start moves to 03:00',
    ],
    ['Europe/Madrid', '2021-03-28T02:30:00', '2021-03-28T01:30:00.000Z', 'in the gap: 03:30 CEST'],
    [
      'Europe/Madrid',
      '2021-03-28T03:00:00',
      '2021-03-28T01:00:00.000Z',
      'first time after the gap',
    ],
    [
      'Europe/Madrid',
      '2021-10-31T01:59:59',
      '2021-10-30T23:59:59.000Z',
      'before the repeated hour',
    ],
    [
      'Europe/Madrid',
      '2021-10-31T02:30:00',
      '2021-10-31T00:30:00.000Z',
      'repeated: earlier offset (CEST)',
    ],
    ['Europe/Madrid', '2021-10-31T03:00:00', '2021-10-31T02:00:00.000Z', 'after the repeated hour'],
    // America/New_York: 2021-03-14 02:00 EST → 03:00 EDT; 2021-11-07 02:00 EDT → 01:00 EST.
    [
      'America/New_York',
      '2021-03-14T01:59:59',
      '2021-03-14T06:59:59.000Z',
      'last second before the gap',
    ],
    [
      'America/New_York',
      '2021-03-14T02:30:00',
      '2021-03-14T07:30:00.000Z',
      'in the gap: 03:30 EDT',
    ],
    [
      'America/New_York',
      '2021-03-14T03:00:00',
      '2021-03-14T07:00:00.000Z',
      'first time after the gap',
    ],
    [
      'America/New_York',
      '2021-11-07T00:59:59',
      '2021-11-07T04:59:59.000Z',
      'before the repeated hour',
    ],
    [
      'America/New_York',
      '2021-11-07T01:30:00',
      '2021-11-07T05:30:00.000Z',
      'repeated: earlier offset (EDT)',
    ],
    [
      'America/New_York',
      '2021-11-07T02:00:00',
      '2021-11-07T07:00:00.000Z',
      'after the repeated hour',
    ],
  ])('%s %s → %s (%s)', (zone, wallText, instant) => {
    expect(at(zone, wallText)).toBe(instant);
  });

  it('reads a gap time and the first real time after it as the same instant', () => {
    expect(at('Europe/Madrid', '2021-03-28T02:00:00')).toBe(
      at('Europe/Madrid', '2021-03-28T03:00:00'),
    );
  });
});

describe('years below 100', () => {
  it('are read exactly, not as 1900–1999', () => {
    const utc = createTimeZone('UTC');
    const year50 = new Date(0);
    year50.setUTCFullYear(50, 5, 30);
    year50.setUTCHours(21, 0, 0, 0);
    expect(utc.toInstant(parseWallClock('0050-06-30T21:00:00')!)).toBe(year50.getTime());
    const year1 = new Date(0);
    year1.setUTCFullYear(1, 0, 1);
    expect(utc.toInstant(parseWallClock('0001-01-01T00:00:00')!)).toBe(year1.getTime());
    expect(new Date(utc.toInstant(parseWallClock('0099-12-31T23:59:59')!)).toISOString()).toBe(
      '0099-12-31T23:59:59.000Z',
    );
  });

  it('keep their order across zones that used local mean time', () => {
    const madrid = createTimeZone('Europe/Madrid');
    const first = madrid.toInstant(parseWallClock('0050-06-30T21:00:00')!);
    const later = madrid.toInstant(parseWallClock('0050-06-30T22:00:00')!);
    expect(later - first).toBe(3_600_000);
    expect(new Date(first).getUTCFullYear()).toBe(50);
  });
});

/**
 * An independent reading of the same rule: the zone's offsets read back from Intl.DateTimeFormat
 * (formatToParts) a day either side of the wall clock, then the "compatible" choice between them.
 * Slow and plain; Temporal must give the same instant for every wall clock drawn.
 */
function referenceInstant(zone: string, w: WallClock): number {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    era: 'short',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  const offsetAt = (instant: number): number => {
    const p: Record<string, string> = {};
    for (const part of format.formatToParts(instant)) p[part.type] = part.value;
    const year = p.era === 'BC' ? 1 - Number(p.year) : Number(p.year);
    const local = utcMillis(year, +p.month!, +p.day!, +p.hour!, +p.minute!, +p.second!);
    return local - Math.floor(instant / 1000) * 1000;
  };
  const local = utcMillis(w.year, w.month, w.day, w.hour, w.minute, w.second);
  const [before, after] = [offsetAt(local - 86_400_000), offsetAt(local + 86_400_000)];
  if (before === after || offsetAt(local - before) === before) return local - before;
  return offsetAt(local - after) === after ? local - after : local - before;
}

const SEED = Number(process.env.WALL_CLOCK_SEED ?? Date.now() % 1_000_000);

/** mulberry32, seeded (the simulator's generator cannot be imported here: it depends on core). */
function createRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe(`createTimeZone against Intl's offsets, wall clocks drawn at random (WALL_CLOCK_SEED=${SEED})`, () => {
  const random = createRandom(SEED);
  const ZONES = [
    'Europe/Madrid',
    'America/New_York',
    'Australia/Lord_Howe',
    'Asia/Kolkata',
    'America/Santiago',
    'Pacific/Apia',
    'Europe/Dublin',
  ];
  it.each(ZONES)('%s', (zone) => {
    const tz = createTimeZone(zone);
    for (let i = 0; i < 2_000; i++) {
      // Most near the present; a share in the small hours of the months clocks change in (the
      // gaps and repeated hours), some far back (local mean time) and ahead.
      const draw = random();
      const span = (from: number, to: number) =>
        Date.UTC(from, 0, 1) + random() * (Date.UTC(to, 0, 1) - Date.UTC(from, 0, 1));
      const at =
        draw < 0.4
          ? Date.UTC(
              2010 + Math.floor(random() * 20),
              [2, 3, 8, 9, 10][Math.floor(random() * 5)]!,
              1 + Math.floor(random() * 28),
              Math.floor(random() * 4),
              Math.floor(random() * 60),
            )
          : draw < 0.8
            ? span(2015, 2030)
            : span(1850, 2100);
      const w = parseWallClock(new Date(at).toISOString().slice(0, 19))!;
      expect(tz.toInstant(w), `${zone} ${JSON.stringify(w)} (WALL_CLOCK_SEED=${SEED})`).toBe(
        referenceInstant(zone, w),
      );
    }
  });
});

describe('parseOffsetDateTime (mapped feeds)', () => {
  it.each([
    '2026-05-01T18:00:00Z',
    '2026-05-01T20:00:00+02:00',
    '2026-05-01T13:00:00-0500',
    '2026-05-01T18:00Z',
    '2026-05-01T18:00:00.999Z',
    '2024-02-29T23:59:59+14:00',
  ])('%s names the instant Temporal names, to the second', (text) => {
    const reference = Temporal.Instant.from(text).round({
      smallestUnit: 'second',
      roundingMode: 'floor',
    });
    expect(parseOffsetDateTime(text)).toBe(reference.epochMilliseconds);
  });

  it.each([
    '2026-05-01T18:00:00',
    '2026-02-30T18:00:00Z',
    '2026-05-01T18:00:00+24:00',
    '2026-05-01 18:00:00Z',
    'x',
  ])('%s is not one', (text) => {
    expect(parseOffsetDateTime(text)).toBeUndefined();
  });

  it.each([
    'Europe/Madrid',
    'America/New_York',
    'Australia/Lord_Howe',
    'Pacific/Chatham',
    'America/St_Johns',
    'Asia/Kolkata',
    'UTC',
  ])(
    "%s: the wall clock at instants drawn around every transition of 2020-2030 is Temporal's",
    (name) => {
      const zone = createTimeZone(name);
      const next = createRandom(SEED);
      const end = Temporal.Instant.from('2030-12-31T00:00:00Z');
      let from = Temporal.Instant.from('2020-01-01T00:00:00Z').toZonedDateTimeISO(name);
      let checked = 0;
      for (;;) {
        const found = from.getTimeZoneTransition('next');
        const at =
          found === null || Temporal.Instant.compare(found.toInstant(), end) > 0
            ? end
            : found.toInstant();
        for (let k = 0; k < 40; k++) {
          const ms = at.epochMilliseconds + Math.floor((next() - 0.5) * 4 * 3_600_000);
          const reference = Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(name);
          const wall = zone.wallClockAt(ms);
          expect([wall.date, wall.time], `${name} at ${ms} (WALL_CLOCK_SEED=${SEED})`).toEqual([
            reference.toPlainDate().toString(),
            reference.toPlainTime().toString({ smallestUnit: 'second' }),
          ]);
          checked++;
        }
        if (at === end || found === null) break;
        from = found;
      }
      expect(checked).toBeGreaterThan(0);
    },
  );
});
