import type { FeedReading, RejectedRecord, RejectionCode } from '@tessera/core';
import { type ApplyCounts, changedAnything, type FeedValidators } from '@tessera/store';
import type { Logger } from 'pino';
import type { FeedSink } from './feed-sink.js';

/** Individual rejections logged per poll; the rest are only counted. */
const MAX_LOGGED_REJECTIONS = 50;

export interface FeedTally {
  events: number;
  offline: number;
  rejected: Partial<Record<RejectionCode, number>>;
  /** Rejections by the field at fault, each with its first example: what to fix first. */
  faults: Record<string, FieldFaults>;
}

export interface FieldFaults {
  count: number;
  example: Omit<RejectedRecord, 'field'>;
}

export type FeedResult =
  | { outcome: 'applied'; counts: ApplyCounts }
  | { outcome: 'unchanged'; counts: ApplyCounts };

export interface FeedApplier {
  /** Stages a chunk's records and counts its rejections. */
  fold(reading: FeedReading): Promise<void>;
  /** Applies the feed, or records it as unchanged; only once the whole document proved sound. */
  finish(at: number, validators: FeedValidators, previousHash: string | null): Promise<FeedResult>;
  /** Discards whatever was staged. */
  abort(): Promise<void>;
}

/**
 * Folds a feed's readings into the sink's stage as they arrive (no copy of the feed is held in
 * memory, and no write transaction is open), then applies the stage in one go.
 */
export function createFeedApplier(sink: FeedSink, log: Logger, tally: FeedTally): FeedApplier {
  let logged = 0;
  let closed = false;
  let staging = false;

  const release = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await sink.stage.clear();
  };

  return {
    async fold(reading) {
      // After finish or abort nothing may be staged again.
      if (closed) return;
      tally.offline += reading.offline;
      tally.events += reading.records.length;
      if (!staging && reading.records.length > 0) {
        staging = true;
        log.info('feed arriving: staging its records');
      }
      sink.stage.add(reading.records);
      for (const r of reading.rejections) {
        tally.rejected[r.code] = (tally.rejected[r.code] ?? 0) + 1;
        const field = r.field ?? '(record)';
        const { code, message, baseId, eventId } = r;
        const faults = tally.faults[field] ?? {
          count: 0,
          example: { code, message, baseId, eventId },
        };
        faults.count++;
        tally.faults[field] = faults;
        if (logged++ < MAX_LOGGED_REJECTIONS) {
          log.warn(
            { baseId: r.baseId, eventId: r.eventId, reason: r.code, field: r.field },
            r.message,
          );
        }
      }
    },

    async finish(at, validators, previousHash) {
      try {
        // The same bytes as the feed last applied (committed with its state, so this store holds
        // all of it): nothing to apply, whatever a record says.
        if (validators.hash === previousHash) {
          await sink.recordPoll({ ok: true, at, validators });
          return {
            outcome: 'unchanged',
            counts: { inserted: 0, updated: 0, moved: 0, unchanged: tally.events },
          };
        }
        const counts = await sink.apply({ at, validators });
        return { outcome: changedAnything(counts) ? 'applied' : 'unchanged', counts };
      } finally {
        await release();
      }
    },

    abort: release,
  };
}
