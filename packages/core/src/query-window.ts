import { isValidDateTime, utcMillis } from './calendar.js';

/**
 * The /search window in epoch milliseconds. Both bounds are optional and inclusive: an event
 * matches when it starts at or after `startsAt` and ends at or before `endsAt`.
 */
export interface QueryWindow {
  readonly startsAt: number | null;
  readonly endsAt: number | null;
}

export type QueryWindowError = {
  readonly code: 'invalid_datetime' | 'reversed_window';
  readonly parameter: 'starts_at' | 'ends_at';
  readonly message: string;
};

// RFC 3339 date-time (offset optional: a value without one is UTC) or a bare full-date. RFC 3339
// puts no bound on the fraction's digits; MAX_DATETIME_LENGTH bounds the whole value instead.
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})?)?$/;

/** Longest accepted parameter value (a fraction of 30 digits with an offset); longer is refused before parsing. */
export const MAX_DATETIME_LENGTH = 56;

type Rounding = 'up' | 'down';

/**
 * Parses an RFC 3339 date-time to epoch ms, or undefined when it is not a real moment.
 * Sub-millisecond digits round inward (up for a lower bound, down for an upper one) so that
 * an inclusive bound never admits an event outside what was asked.
 */
export function parseDateTime(text: string, rounding: Rounding = 'down'): number | undefined {
  if (text.length > MAX_DATETIME_LENGTH) return undefined;
  const m = DATE_TIME.exec(text);
  if (m === null) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = m[4] === undefined ? 0 : Number(m[4]);
  const minute = m[5] === undefined ? 0 : Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (!isValidDateTime(year, month, day, hour, minute, second)) return undefined;
  let offsetMinutes = 0;
  const offset = m[8];
  if (offset !== undefined && offset !== 'Z' && offset !== 'z') {
    const oh = Number(offset.slice(1, 3));
    const om = Number(offset.slice(4, 6));
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = (offset[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  let millis = 0;
  const fraction = m[7];
  if (fraction !== undefined) {
    // From the digits, not a float: 0.999…9 (many nines) is 1 as a double, a second too far.
    millis = Number(fraction.slice(0, 3).padEnd(3, '0'));
    if (rounding === 'up' && /[1-9]/.test(fraction.slice(3))) millis += 1;
  }
  const utc = utcMillis(year, month, day, hour, minute, second) + millis;
  return utc - offsetMinutes * 60_000;
}

export type QueryWindowResult =
  | { ok: true; window: QueryWindow }
  | { ok: false; error: QueryWindowError };

export function parseQueryWindow(
  startsAt: string | undefined,
  endsAt: string | undefined,
): QueryWindowResult {
  const from = startsAt === undefined ? null : parseDateTime(startsAt, 'up');
  if (from === undefined) return invalid('starts_at');
  const to = endsAt === undefined ? null : parseDateTime(endsAt, 'down');
  if (to === undefined) return invalid('ends_at');
  if (from !== null && to !== null && from > to) {
    return {
      ok: false,
      error: {
        code: 'reversed_window',
        parameter: 'starts_at',
        message: 'starts_at must not be after ends_at',
      },
    };
  }
  return { ok: true, window: { startsAt: from, endsAt: to } };
}

function invalid(parameter: 'starts_at' | 'ends_at'): QueryWindowResult {
  return {
    ok: false,
    error: {
      code: 'invalid_datetime',
      parameter,
      message: `${parameter} must be an RFC 3339 date-time such as 2021-07-21T17:32:28Z`,
    },
  };
}

/**
 * The /search rule, the one definition: an event lies in the window when it starts at or after
 * `startsAt` and ends at or before `endsAt` (both inclusive, both optional).
 */
export function isInWindow(window: QueryWindow, startsAt: number, endsAt: number): boolean {
  return (
    (window.startsAt === null || startsAt >= window.startsAt) &&
    (window.endsAt === null || endsAt <= window.endsAt)
  );
}

/**
 * The same window with whole-second bounds: the lower bound rounded up, the upper one down.
 * Event instants are whole seconds (the partner's wall clocks have no fractions, and
 * `EventRecordSchema` refuses any other instant), so this window matches exactly the same events:
 * one cache entry and one ETag for every window that differs only in milliseconds.
 */
export function canonicalWindow(window: QueryWindow): QueryWindow {
  return {
    startsAt: window.startsAt === null ? null : Math.ceil(window.startsAt / 1000) * 1000,
    endsAt: window.endsAt === null ? null : Math.floor(window.endsAt / 1000) * 1000,
  };
}

/**
 * The start instants an event in the window can have, both inclusive: what a start-ordered
 * index scans before `isInWindow` checks each candidate. Derived from the rule: an event never
 * ends before it starts (normalization rejects that), so one that ends by `endsAt` also starts
 * by it.
 */
export function startBounds(window: QueryWindow): { from: number | null; to: number | null } {
  return { from: window.startsAt, to: window.endsAt };
}
