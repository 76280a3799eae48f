import type { FeedReading, RejectionCode } from '@tessera/core';
import type { ApplyCounts, FeedSink, FeedValidators, FeedWriter } from '@tessera/store';
import type { Logger } from 'pino';

/** Individual rejections logged per poll; the rest are only counted. */
const MAX_LOGGED_REJECTIONS = 50;

export interface FeedTally {
  events: number;
  offline: number;
  rejected: Partial<Record<RejectionCode, number>>;
}

export type FeedResult =
  | { outcome: 'applied'; counts: ApplyCounts }
  | { outcome: 'unchanged'; counts: ApplyCounts };

export interface FeedApplier {
  /** Writes a chunk's records (in feed order) and counts its rejections; resolves once taken in. */
  fold(reading: FeedReading): Promise<void>;
  /** Commits the feed, or records it as unchanged; only once the whole document proved sound. */
  finish(at: number, validators: FeedValidators, previousHash: string | null): Promise<FeedResult>;
  /** Discards whatever was written. */
  abort(): Promise<void>;
}

/**
 * Folds a feed's readings into the store. The write transaction opens at the first record that
 * changes anything, so an unchanged feed opens none, and records are written as they arrive
 * instead of being held until the end.
 */
export function createFeedApplier(store: FeedSink, log: Logger, tally: FeedTally): FeedApplier {
  let writer: FeedWriter | undefined;
  let unchanged = 0;
  let logged = 0;
  let closed = false;

  const release = async (): Promise<void> => {
    closed = true;
    const open = writer;
    writer = undefined;
    await open?.abort();
  };

  return {
    async fold(reading) {
      // After finish or abort nothing may open a transaction again.
      if (closed) return;
      tally.offline += reading.offline;
      for (const record of reading.records) {
        tally.events++;
        if (writer === undefined) {
          if (store.classify(record) === 'unchanged') {
            unchanged++;
            continue;
          }
          writer = store.beginFeed();
          log.info('feed transaction open');
        }
        if (writer.upsert(record) === 'unchanged') unchanged++;
      }
      for (const r of reading.rejections) {
        tally.rejected[r.code] = (tally.rejected[r.code] ?? 0) + 1;
        if (logged++ < MAX_LOGGED_REJECTIONS) {
          log.warn(
            { baseId: r.baseId, eventId: r.eventId, reason: r.code, field: r.field },
            r.message,
          );
        }
      }
      await writer?.settle();
    },

    async finish(at, validators, previousHash) {
      // The same bytes as the feed last applied: nothing to apply, whatever a record says.
      if (writer === undefined || validators.hash === previousHash) {
        await release();
        await store.recordPoll({ ok: true, at, validators });
        return {
          outcome: 'unchanged',
          counts: { inserted: 0, updated: 0, moved: 0, unchanged: tally.events },
        };
      }
      closed = true;
      const committing = writer;
      writer = undefined;
      const counts = await committing.commit({ at, validators });
      return { outcome: 'applied', counts: { ...counts, unchanged } };
    },

    abort: release,
  };
}
