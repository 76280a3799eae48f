import type { NormalizedEvent } from './event.js';
import { eventIdFor } from './event-identity.js';
import type { ProviderBase, ProviderItem } from './provider-record.js';
import { type Rejection, reject } from './rejection.js';
import { parseWallClock, type TimeZone } from './wall-clock.js';

export interface NormalizeContext {
  readonly provider: string;
  readonly timeZone: TimeZone;
}

export interface PriceSummary {
  readonly min: number | null;
  readonly max: number | null;
  /** Set when a zone's price was not a plain non-negative decimal. */
  readonly invalid?: string | undefined;
}

export type NormalizeResult =
  | { ok: true; event: NormalizedEvent }
  | { ok: false; rejection: Rejection };

/**
 * Validates one provider event and gives it its identity and instants. Sell mode is the
 * caller's concern: this answers "is this record a sound event", whatever its base's mode.
 */
export function normalizeEvent(
  ctx: NormalizeContext,
  base: ProviderBase,
  item: ProviderItem,
  prices: PriceSummary,
): NormalizeResult {
  const start = parseWallClock(item.startsAt);
  if (start === undefined) {
    return fail(reject('invalid_datetime', `invalid start "${item.startsAt}"`, 'start'));
  }
  const end = parseWallClock(item.endsAt);
  if (end === undefined) {
    return fail(reject('invalid_datetime', `invalid end "${item.endsAt}"`, 'end'));
  }
  const startsAt = ctx.timeZone.toInstant(start);
  const endsAt = ctx.timeZone.toInstant(end);
  if (endsAt < startsAt) {
    return fail(
      reject('end_before_start', `ends ${item.endsAt} before it starts ${item.startsAt}`),
    );
  }
  if (prices.invalid !== undefined) {
    return fail(reject('invalid_price', `invalid zone price "${prices.invalid}"`, 'price'));
  }
  return {
    ok: true,
    event: {
      id: eventIdFor(ctx.provider, base.baseId, item.eventId),
      provider: ctx.provider,
      baseId: base.baseId,
      eventId: item.eventId,
      title: base.title,
      startDate: start.date,
      startTime: start.time,
      endDate: end.date,
      endTime: end.time,
      startsAt,
      endsAt,
      minPrice: prices.min,
      maxPrice: prices.max,
    },
  };
}

function fail(rejection: Rejection): NormalizeResult {
  return { ok: false, rejection };
}
