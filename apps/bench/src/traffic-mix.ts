import { eventIdFor } from '@tessera/core';
import { createRandom } from '@tessera/simulator';

/** The kinds of request a marketplace's front ends send, and their shares of the traffic. */
export const MIX_SHARES = {
  /** A date picker's day windows, a few days far more asked for than the rest (Zipf). */
  day: 0.65,
  /** "From now" windows, anchored to the current second: a new window every second. */
  fromNow: 0.2,
  /** One event by id. */
  event: 0.1,
  /** The first page of a month's window. */
  page: 0.05,
} as const;
export type MixKind = keyof typeof MIX_SHARES;

export interface MixSpace {
  /** A day in the seeded span the windows start from (ms), and the event count (see seedStore). */
  firstDay: number;
  events: number;
  /** Distinct day windows the date picker asks for. */
  days: number;
}

const DAY = 86_400_000;

/**
 * A seeded stream of request paths in the shares above, for a store seeded by `seedStore`: day
 * windows drawn by Zipf's law (s = 1) over `days` days from `firstDay`, "from
 * now" windows of a week from a clock that starts there and moves with real time, ids drawn
 * uniformly over the seeded events, first pages (100) of 30-day windows drawn as the days are.
 */
export function createTrafficMix(
  space: MixSpace,
  seed: number,
  now: () => number = Date.now,
): () => { kind: MixKind; path: string } {
  const random = createRandom(seed);
  const cumulative: number[] = [];
  let total = 0;
  for (let k = 1; k <= space.days; k++) {
    total += 1 / k;
    cumulative.push(total);
  }
  const firstDay = Math.floor(space.firstDay / DAY) * DAY;
  const zipfDay = (): number => {
    const x = random() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return firstDay + lo * DAY;
  };
  const started = now();
  const iso = (t: number) => `${new Date(t).toISOString().slice(0, 19)}Z`;
  const window = (from: number, span: number) =>
    `starts_at=${iso(from)}&ends_at=${iso(from + span)}`;
  return () => {
    const r = random();
    if (r < MIX_SHARES.day) {
      return { kind: 'day', path: `/search?${window(zipfDay(), DAY)}` };
    }
    if (r < MIX_SHARES.day + MIX_SHARES.fromNow) {
      const second = Math.floor((now() - started) / 1000) * 1000;
      return { kind: 'fromNow', path: `/search?${window(firstDay + second, 7 * DAY)}` };
    }
    if (r < MIX_SHARES.day + MIX_SHARES.fromNow + MIX_SHARES.event) {
      const i = Math.floor(random() * space.events);
      return { kind: 'event', path: `/events/${eventIdFor('bench', String(i % 1000), String(i))}` };
    }
    return { kind: 'page', path: `/search?${window(zipfDay(), 30 * DAY)}&limit=100` };
  };
}
