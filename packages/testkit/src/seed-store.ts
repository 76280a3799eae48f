import { type EventRecord, eventIdFor, toEventRecord } from '@tessera/core';

/** What seeding needs of a store writer (structurally: the testkit does not depend on the store). */
export interface SeedTarget {
  applyFeed(
    feed: string,
    records: Iterable<EventRecord>,
    commit: {
      at: number;
      validators: { urlDigest: null; etag: null; lastModified: null; hash: string };
    },
  ): unknown;
}

const WEEK = 7 * 86_400_000;
const START = Date.parse('2000-01-01T00:00:00Z');

/**
 * Fills a store with `count` events spread evenly so that one week holds about `perWeek` of them
 * (100k at 50 a week spans 38 years), each with the shape and size of a real summary.
 */
export function seedStore(store: SeedTarget, count: number, perWeek = 50): void {
  store.applyFeed('bench', seedRecords(count, perWeek), {
    at: Date.now(),
    validators: { urlDigest: null, etag: null, lastModified: null, hash: 'seed' },
  });
}

/** The records `seedStore` writes, for a caller that times writing them itself. */
export function* seedRecords(count: number, perWeek = 50): Generator<EventRecord> {
  const span = Math.ceil(count / perWeek) * WEEK;
  const iso = (t: number) => new Date(t).toISOString();
  for (let i = 0; i < count; i++) {
    const startsAt = START + Math.floor(((i / count) * span) / 1000) * 1000;
    const endsAt = startsAt + (1 + (i % 4)) * 1_800_000;
    yield toEventRecord({
      id: eventIdFor('bench', String(i % 1000), String(i)),
      provider: 'bench',
      baseId: String(i % 1000),
      eventId: String(i),
      title: `Benchmark show ${i} at the Teatro Principal`,
      startDate: iso(startsAt).slice(0, 10),
      startTime: iso(startsAt).slice(11, 19),
      endDate: iso(endsAt).slice(0, 10),
      endTime: iso(endsAt).slice(11, 19),
      startsAt,
      endsAt,
      minPrice: 10 + (i % 50),
      maxPrice: 60 + (i % 90),
    });
  }
}

/** A one-week window in the middle of the seeded span. */
export function weekWindow(count: number, perWeek = 50): { startsAt: string; endsAt: string } {
  const span = Math.ceil(count / perWeek) * WEEK;
  const from = START + Math.floor(span / 2 / WEEK) * WEEK;
  return {
    startsAt: `${new Date(from).toISOString().slice(0, 19)}Z`,
    endsAt: `${new Date(from + WEEK).toISOString().slice(0, 19)}Z`,
  };
}
