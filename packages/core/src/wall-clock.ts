import { isValidDateTime } from './calendar.js';

/**
 * A provider datetime: wall-clock fields with no offset, e.g. `2021-06-30T21:00:00`.
 * The API shows these fields untouched; only filtering needs an instant (see `TimeZone`).
 */
export interface WallClock {
  readonly date: string;
  readonly time: string;
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

const WALL_CLOCK = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/;

/** Parses a provider datetime strictly; returns undefined for anything that is not a real moment. */
export function parseWallClock(text: string): WallClock | undefined {
  const m = WALL_CLOCK.exec(text);
  if (m === null) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  if (!isValidDateTime(year, month, day, hour, minute, second)) return undefined;
  return {
    date: text.slice(0, 10),
    time: text.slice(11, 19),
    year,
    month,
    day,
    hour,
    minute,
    second,
  };
}

/** Turns wall clocks into instants in one IANA zone. */
export interface TimeZone {
  readonly name: string;
  toInstant(wall: WallClock): number;
}

function wallAsUtc(w: WallClock): number {
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
}

/**
 * Creates the converter for an IANA zone name; throws a RangeError for an unknown zone.
 * UTC takes a fast path; other zones ask Intl for the zone's offset at that moment, twice,
 * so that a wall clock just after a DST change gets the offset in force then.
 */
export function createTimeZone(name: string): TimeZone {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone: name,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  const canonical = format.resolvedOptions().timeZone;
  if (canonical === 'UTC' || canonical === 'Etc/UTC') {
    return { name: canonical, toInstant: wallAsUtc };
  }
  const offsetAt = (instant: number): number => {
    const parts: Record<string, number> = {};
    for (const p of format.formatToParts(instant)) {
      if (p.type !== 'literal') parts[p.type] = Number(p.value);
    }
    const asUtc = Date.UTC(
      parts.year ?? 0,
      (parts.month ?? 1) - 1,
      parts.day ?? 1,
      parts.hour ?? 0,
      parts.minute ?? 0,
      parts.second ?? 0,
    );
    return asUtc - Math.floor(instant / 1000) * 1000;
  };
  return {
    name: canonical,
    toInstant(wall) {
      const guess = wallAsUtc(wall);
      const first = guess - offsetAt(guess);
      const second = guess - offsetAt(first);
      return second;
    },
  };
}
