import type { RejectedRecord, RejectionCode } from '@tessera/core';
import type { Logger } from 'pino';
import type { TimedReading } from './chunk-parser.js';
import type { FeedBatch } from './feed-sink.js';
import type { ParseTimes } from './parse-worker.js';

/** Individual rejections logged per poll; the rest are only counted. */
const MAX_LOGGED_REJECTIONS = 50;

/** What a poll's readings held, as they were staged. */
export interface StagedFeed {
  events: number;
  offline: number;
  rejected: Partial<Record<RejectionCode, number>>;
  /** Rejections by the field at fault, each with its first example: what to fix first. */
  faults: Record<string, FieldFaults>;
  /** The worker threads' time, added up over the readings. */
  workerTimes: ParseTimes;
  /** The main thread's time staging them, in ms. */
  storeMs: number;
}

export interface FieldFaults {
  count: number;
  example: Omit<RejectedRecord, 'field'>;
}

export function emptyStagedFeed(): StagedFeed {
  return {
    events: 0,
    offline: 0,
    rejected: {},
    faults: {},
    workerTimes: { decodeMs: 0, condenseMs: 0, saxMs: 0, readMs: 0 },
    storeMs: 0,
  };
}

/**
 * Stages a feed's readings in the poll's batch as they arrive (no copy of the feed is held in
 * memory, and no write transaction is open), counting the records and each rejection; `staged`
 * is this step's own to write, read by the poll once it ends, whether it ended well or not.
 */
export async function stageReadings(
  readings: AsyncIterable<TimedReading>,
  batch: FeedBatch,
  log: Logger,
  staged: StagedFeed,
  onStaged?: () => void,
): Promise<void> {
  let logged = 0;
  for await (const { reading, times } of readings) {
    const started = performance.now();
    addTimes(staged.workerTimes, times);
    staged.offline += reading.offline;
    if (staged.events === 0 && reading.records.length > 0) {
      log.info('feed arriving: staging its records');
    }
    staged.events += reading.records.length;
    batch.add(reading.records);
    for (const rejection of reading.rejections) {
      countRejection(staged, rejection);
      if (logged++ < MAX_LOGGED_REJECTIONS) {
        const { baseId, eventId, code, field } = rejection;
        log.warn({ baseId, eventId, reason: code, field }, rejection.message);
      }
    }
    staged.storeMs += performance.now() - started;
    onStaged?.();
  }
}

function countRejection(staged: StagedFeed, rejection: RejectedRecord): void {
  const { code, message, baseId, eventId } = rejection;
  staged.rejected[code] = (staged.rejected[code] ?? 0) + 1;
  const field = rejection.field ?? '(record)';
  const faults = staged.faults[field] ?? { count: 0, example: { code, message, baseId, eventId } };
  faults.count++;
  staged.faults[field] = faults;
}

function addTimes(sum: ParseTimes, times: ParseTimes): void {
  sum.decodeMs += times.decodeMs;
  sum.condenseMs += times.condenseMs;
  sum.saxMs += times.saxMs;
  sum.readMs += times.readMs;
}
