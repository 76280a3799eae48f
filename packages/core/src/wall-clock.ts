import { isValidDateTime, utcMillis } from './calendar.js';

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
  return utcMillis(w.year, w.month, w.day, w.hour, w.minute, w.second);
}

const DAY = 86_400_000;

/**
 * Creates the converter for an IANA zone name; throws a RangeError for an unknown zone.
 *
 * A wall clock near a daylight-saving change may name no instant (the gap when clocks go
 * forward) or two (the hour repeated when they go back). One rule, the one java.time and
 * Temporal call `compatible`, decides: a repeated time takes the offset in force before the
 * change (the earlier instant), and a time in a gap moves forward by the gap's length (it is
 * read with the offset before the change). The same rule east and west of UTC.
 */
export function createTimeZone(name: string): TimeZone {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone: name,
    hourCycle: 'h23',
    era: 'short',
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
  /** The zone's offset from UTC at an instant, in ms (local = instant + offset). */
  const offsetAt = (instant: number): number => {
    const parts: Record<string, number> = {};
    let bc = false;
    for (const p of format.formatToParts(instant)) {
      if (p.type === 'era') bc = p.value === 'BC';
      else if (p.type !== 'literal') parts[p.type] = Number(p.value);
    }
    const year = bc ? 1 - (parts.year ?? 1) : (parts.year ?? 1970);
    const local = utcMillis(
      year,
      parts.month ?? 1,
      parts.day ?? 1,
      parts.hour ?? 0,
      parts.minute ?? 0,
      parts.second ?? 0,
    );
    return local - Math.floor(instant / 1000) * 1000;
  };
  return {
    name: canonical,
    toInstant(wall) {
      const local = wallAsUtc(wall);
      // Offsets a day either side: equal unless a change falls near this wall clock.
      const before = offsetAt(local - DAY);
      const after = offsetAt(local + DAY);
      const withBefore = local - before;
      if (before === after) return withBefore;
      if (offsetAt(withBefore) === before) return withBefore; // before the change, or repeated
      const withAfter = local - after;
      if (offsetAt(withAfter) === after) return withAfter; // after the change
      return withBefore; // in the gap: moved forward by the gap's length
    },
  };
}
