import { z } from 'zod';

const date = z.iso.date();
const time = z.iso.time({ precision: 0 });

/** One event as the API shows it: exactly the eight fields of the partner-integration spec. */
export const EventSummarySchema = z.strictObject({
  id: z.uuid(),
  title: z.string(),
  start_date: date,
  start_time: time.nullable(),
  end_date: date.nullable(),
  end_time: time.nullable(),
  min_price: z.number().nonnegative().nullable(),
  max_price: z.number().nonnegative().nullable(),
});
export type EventSummary = z.infer<typeof EventSummarySchema>;

/** A provider event after validation, with the instants used for filtering. */
export const NormalizedEventSchema = z.object({
  id: z.uuid(),
  provider: z.string().min(1),
  baseId: z.string(),
  eventId: z.string(),
  title: z.string(),
  startDate: date,
  startTime: time,
  endDate: date,
  endTime: time,
  /** Epoch milliseconds of the start wall clock in the provider's time zone. */
  startsAt: z.number().int(),
  endsAt: z.number().int(),
  minPrice: z.number().nonnegative().nullable(),
  maxPrice: z.number().nonnegative().nullable(),
});
export type NormalizedEvent = z.infer<typeof NormalizedEventSchema>;

/**
 * What the store keeps per event: the instants it indexes and filters on, and the summary
 * already serialized, so that serving an event is copying bytes.
 */
export const EventRecordSchema = z.object({
  id: z.uuid(),
  /** Whole seconds, as the partner's wall clocks are: canonicalWindow relies on it. */
  startsAt: z.number().int().multipleOf(1000),
  endsAt: z.number().int().multipleOf(1000),
  summary: z.string(),
});
export type EventRecord = z.infer<typeof EventRecordSchema>;

export function toEventSummary(event: NormalizedEvent): EventSummary {
  // Key order here is the key order on the wire.
  return {
    id: event.id,
    title: event.title,
    start_date: event.startDate,
    start_time: event.startTime,
    end_date: event.endDate,
    end_time: event.endTime,
    min_price: event.minPrice,
    max_price: event.maxPrice,
  };
}

/**
 * Names what parsing, normalization and serialization make of a feed. Bump it with any change
 * that stores different records for the same bytes: the ingestor's unchanged-feed check hashes
 * it with the body, so that after an upgrade the same bytes are applied again and the corrected
 * values land. `test/normalization-version.test.ts` pins the fixtures' records to it and fails
 * until it is bumped.
 */
export const NORMALIZATION_VERSION = 1;

/** Serializes an event once, at ingest. The API never calls JSON.stringify on an event. */
export function toEventRecord(event: NormalizedEvent): EventRecord {
  return {
    id: event.id,
    startsAt: event.startsAt,
    endsAt: event.endsAt,
    summary: JSON.stringify(toEventSummary(event)),
  };
}
