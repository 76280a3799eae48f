import {
  eventIdFor,
  type FeedReading,
  isProviderId,
  MAX_TITLE_LENGTH,
  type NormalizedEvent,
  parseOffsetDateTime,
  parsePrice,
  parseWallClock,
  type Rejection,
  reject,
  type TimeZone,
  toEventRecord,
  type WallClock,
} from '@tessera/core';
import type { CompiledMapping, DatetimeRule, FieldName, PriceRule } from './feed-format.js';
import type { PathStep } from './record-path.js';

/** Every leaf value a path reaches from one record, in document order; absent ones left out. */
export type ValuesAt = (steps: readonly PathStep[]) => unknown[];

export interface MapContext {
  readonly provider: string;
  readonly timeZone: TimeZone;
}

type Read<T> = { ok: true; value: T } | { ok: false; rejection: Rejection };

/** The largest magnitude a price may have: the built-in path's 15 integer digits. */
const MAX_PRICE = 1e15;
/** Epoch milliseconds that name a datetime (±100 million days, as ECMAScript's Date). */
const MAX_EPOCH_MS = 8.64e15;
const MINUTES_ONLY = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/;

/**
 * Reads one record through the mapping into the reading: an event, an offline record, or a
 * rejection naming the mapping's field at fault. The same rules as the built-in path: a record
 * not on sale is counted and not validated; anything unreadable skips this record only.
 */
export function mapRecord(
  mapping: CompiledMapping,
  valuesAt: ValuesAt,
  ctx: MapContext,
  reading: FeedReading,
): void {
  reading.bases++;
  if (mapping.online !== undefined) {
    const { equals } = mapping.online;
    if (!valuesAt(mapping.online.steps).some((value) => sameValue(value, equals))) {
      reading.offline++;
      return;
    }
  }
  const eventId = readId('event_id', valuesAt(mapping.eventId.steps));
  const baseId =
    mapping.baseId === undefined ? eventId : readId('base_id', valuesAt(mapping.baseId.steps));
  const event = readEvent(mapping, valuesAt, ctx, eventId, baseId);
  if (event.ok) {
    reading.records.push(toEventRecord(event.value));
    return;
  }
  reading.rejections.push({
    ...event.rejection,
    baseId: baseId.ok ? baseId.value : null,
    eventId: eventId.ok ? eventId.value : null,
  });
}

function readEvent(
  mapping: CompiledMapping,
  valuesAt: ValuesAt,
  ctx: MapContext,
  eventId: Read<string>,
  baseId: Read<string>,
): Read<NormalizedEvent> {
  if (!eventId.ok) return eventId;
  if (!baseId.ok) return baseId;
  const title = readTitle(valuesAt(mapping.title.steps));
  if (!title.ok) return title;
  const start = readDatetime('starts_at', mapping.startsAt, valuesAt, ctx.timeZone);
  if (!start.ok) return start;
  const end = readDatetime('ends_at', mapping.endsAt, valuesAt, ctx.timeZone);
  if (!end.ok) return end;
  if (end.value.instant < start.value.instant) {
    return fail('end_before_start', 'ends_at', 'the event ends before it starts');
  }
  const prices = readPrices(mapping, valuesAt);
  if (!prices.ok) return prices;
  return {
    ok: true,
    value: {
      id: eventIdFor(ctx.provider, baseId.value, eventId.value),
      provider: ctx.provider,
      baseId: baseId.value,
      eventId: eventId.value,
      title: title.value,
      startDate: start.value.wall.date,
      startTime: start.value.wall.time,
      endDate: end.value.wall.date,
      endTime: end.value.wall.time,
      startsAt: start.value.instant,
      endsAt: end.value.instant,
      minPrice: prices.value.min,
      maxPrice: prices.value.max,
    },
  };
}

function fail(code: Rejection['code'], field: FieldName, message: string): Read<never> {
  return { ok: false, rejection: reject(code, `${field}: ${message}`, field) };
}

function only(field: FieldName, values: unknown[]): Read<unknown> {
  if (values.length === 0) return fail('missing_attribute', field, 'missing');
  if (values.length > 1) return fail('invalid_value', field, `${values.length} values, not one`);
  return { ok: true, value: values[0] };
}

/** An id is a string of the partner's id alphabet, or a whole number JSON holds exactly. */
function readId(field: 'event_id' | 'base_id', values: unknown[]): Read<string> {
  const value = only(field, values);
  if (!value.ok) return value;
  const v = value.value;
  const text =
    typeof v === 'string'
      ? v
      : typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
        ? String(v)
        : undefined;
  if (text === undefined || !isProviderId(text)) {
    return fail('invalid_id', field, `invalid id ${preview(v)}`);
  }
  return { ok: true, value: text };
}

function readTitle(values: unknown[]): Read<string> {
  const value = only('title', values);
  if (!value.ok) return value;
  const v = value.value;
  if (typeof v !== 'string' && typeof v !== 'number') {
    return fail('invalid_value', 'title', `not text: ${preview(v)}`);
  }
  const text = String(v);
  if (text.length > MAX_TITLE_LENGTH) return fail('attribute_too_long', 'title', 'is too long');
  return { ok: true, value: text };
}

/**
 * A datetime is an instant (ISO 8601 with an offset, or epoch seconds/milliseconds), shown as
 * the wall clock of the feed's time zone at that instant; or a wall clock without an offset,
 * local to the feed's time zone and shown as written, as the built-in path does.
 */
function readDatetime(
  field: 'starts_at' | 'ends_at',
  rule: DatetimeRule,
  valuesAt: ValuesAt,
  zone: TimeZone,
): Read<{ wall: WallClock; instant: number }> {
  const value = only(field, valuesAt(rule.steps));
  if (!value.ok) return value;
  const v = value.value;
  const invalid = () => fail('invalid_datetime', field, `invalid datetime ${preview(v)}`);
  if (rule.epoch !== undefined) {
    const n =
      typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : NaN;
    const ms = rule.epoch === 's' ? n * 1000 : n;
    if (!Number.isFinite(ms) || Math.abs(ms) > MAX_EPOCH_MS) return invalid();
    const instant = Math.floor(ms / 1000) * 1000;
    return { ok: true, value: { wall: zone.wallClockAt(instant), instant } };
  }
  if (typeof v !== 'string') return invalid();
  const instant = parseOffsetDateTime(v);
  if (instant !== undefined)
    return { ok: true, value: { wall: zone.wallClockAt(instant), instant } };
  const wall = parseWallClock(MINUTES_ONLY.test(v) ? `${v}:00` : v);
  if (wall === undefined) return invalid();
  return { ok: true, value: { wall, instant: zone.toInstant(wall) } };
}

interface PriceRange {
  min: number | null;
  max: number | null;
}

/** The price range; a `price` field is both ends' rule, and its values are read once. */
function readPrices(mapping: CompiledMapping, valuesAt: ValuesAt): Read<PriceRange> {
  const { minPrice, maxPrice } = mapping;
  const low = readPriceRange('min_price', minPrice, valuesAt);
  if (!low.ok || minPrice === maxPrice) return low;
  const high = readPriceRange('max_price', maxPrice, valuesAt);
  if (!high.ok) return high;
  return { ok: true, value: { min: low.value.min, max: high.value.max } };
}

/**
 * The lowest and highest of a price field's values, each a non-negative number or decimal
 * text times the field's scale, to six decimals (`1999` cents × 0.01 is 19.99, not
 * 19.990000000000002). No value at all is no price, as an event without zones.
 */
function readPriceRange(
  field: 'min_price' | 'max_price',
  rule: PriceRule | undefined,
  valuesAt: ValuesAt,
): Read<PriceRange> {
  const range: PriceRange = { min: null, max: null };
  if (rule === undefined) return { ok: true, value: range };
  for (const v of valuesAt(rule.steps)) {
    const n = typeof v === 'number' ? v : typeof v === 'string' ? parsePrice(v) : undefined;
    if (n === undefined || !Number.isFinite(n) || n < 0 || n > MAX_PRICE) {
      return fail('invalid_price', field, `invalid price ${preview(v)}`);
    }
    const scaled = toSixDecimals(n * rule.scale);
    if (scaled > MAX_PRICE) return fail('invalid_price', field, `invalid price ${preview(v)}`);
    if (range.min === null || scaled < range.min) range.min = scaled;
    if (range.max === null || scaled > range.max) range.max = scaled;
  }
  return { ok: true, value: range };
}

function sameValue(value: unknown, equals: string | number | boolean): boolean {
  return typeof value === typeof equals ? value === equals : String(value) === String(equals);
}

function preview(value: unknown): string {
  const text =
    typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}

/** Rounds to six decimals; most prices already are (toFixed is slow beside the check). */
function toSixDecimals(n: number): number {
  return Math.round(n * 1e6) / 1e6 === n ? n : Number(n.toFixed(6));
}
