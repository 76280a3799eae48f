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

/** Turns wall clocks into instants in one IANA zone, and instants into its wall clocks. */
export interface TimeZone {
  readonly name: string;
  toInstant(wall: WallClock): number;
  /** The zone's wall clock at an instant, to the second (milliseconds are dropped). */
  wallClockAt(epochMs: number): WallClock;
}

/**
 * An ISO 8601 datetime with an offset (`2026-05-01T18:00:00Z`, `…+02:00`, `…+0200`), seconds
 * and a fraction optional: the instant it names, in whole seconds (a fraction is dropped, as
 * the store indexes seconds). A datetime without an offset is a wall clock: see parseWallClock.
 */
const OFFSET_DATETIME =
  /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(:\d{2})?(?:\.\d{1,9})?(?:(Z)|([+-])(\d{2}):?(\d{2}))$/;

export function parseOffsetDateTime(text: string): number | undefined {
  const m = OFFSET_DATETIME.exec(text);
  if (m === null) return undefined;
  const wall = parseWallClock(`${m[1]}${m[2] ?? ':00'}`);
  if (wall === undefined) return undefined;
  if (m[3] === 'Z') return wallAsUtc(wall);
  const hours = Number(m[5]);
  const minutes = Number(m[6]);
  if (hours > 23 || minutes > 59) return undefined;
  const offsetMs = (hours * 60 + minutes) * 60_000 * (m[4] === '-' ? -1 : 1);
  return wallAsUtc(wall) - offsetMs;
}

function wallClockOf(t: {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}): WallClock {
  const two = (n: number): string => String(n).padStart(2, '0');
  return {
    date: `${String(t.year).padStart(4, '0')}-${two(t.month)}-${two(t.day)}`,
    time: `${two(t.hour)}:${two(t.minute)}:${two(t.second)}`,
    year: t.year,
    month: t.month,
    day: t.day,
    hour: t.hour,
    minute: t.minute,
    second: t.second,
  };
}

function wallAsUtc(w: WallClock): number {
  return utcMillis(w.year, w.month, w.day, w.hour, w.minute, w.second);
}

/**
 * Creates the converter for an IANA zone name; throws a RangeError for an unknown zone.
 *
 * A wall clock near a daylight-saving change may name no instant (the gap when clocks go
 * forward) or two (the hour repeated when they go back). One rule, the one java.time and
 * Temporal call `compatible`, decides: a repeated time takes the offset in force before the
 * change (the earlier instant), and a time in a gap moves forward by the gap's length. Temporal,
 * built into the runtime, does the zone's arithmetic: about 4× faster here than offsets read
 * back from Intl.DateTimeFormat, and the same instant for every wall clock tried (see
 * docs/runtime.md).
 */
export function createTimeZone(name: string): TimeZone {
  const canonical = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  const wallClockAt = createWallClockAt(canonical);
  if (canonical === 'UTC' || canonical === 'Etc/UTC') {
    return { name: canonical, toInstant: wallAsUtc, wallClockAt };
  }
  return {
    name: canonical,
    wallClockAt,
    toInstant: (w) =>
      new Temporal.PlainDateTime(
        w.year,
        w.month,
        w.day,
        w.hour,
        w.minute,
        w.second,
      ).toZonedDateTime(canonical, { disambiguation: 'compatible' }).epochMilliseconds,
  };
}

/** Offsets are looked up per quarter hour: every transition of the tz database falls on one. */
const BUCKET_MS = 15 * 60_000;

/**
 * A zone's wall clock at an instant: the instant plus the zone's offset then, read as UTC. The
 * offset comes from Temporal once per quarter hour seen (a mapped feed's events share few), and
 * is kept only when both ends of that quarter agree, so that an instant is never given an offset
 * from across a transition; otherwise Temporal answers for the instant itself.
 */
function createWallClockAt(zone: string): (epochMs: number) => WallClock {
  const offsetAt = (ms: number): number =>
    Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(zone).offsetNanoseconds / 1e6;
  const offsets = new Map<number, number | null>();
  return (epochMs) => {
    const bucket = Math.floor(epochMs / BUCKET_MS);
    let offset = offsets.get(bucket);
    if (offset === undefined) {
      const start = offsetAt(bucket * BUCKET_MS);
      offset = start === offsetAt((bucket + 1) * BUCKET_MS - 1) ? start : null;
      if (offsets.size > 100_000) offsets.clear();
      offsets.set(bucket, offset);
    }
    const local = new Date(Math.floor(epochMs / 1000) * 1000 + (offset ?? offsetAt(epochMs)));
    return wallClockOf({
      year: local.getUTCFullYear(),
      month: local.getUTCMonth() + 1,
      day: local.getUTCDate(),
      hour: local.getUTCHours(),
      minute: local.getUTCMinutes(),
      second: local.getUTCSeconds(),
    });
  };
}
