import { closeSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { EventRecord } from '@tessera/core';
import { open, type RootDatabase } from 'lmdb';
import { entryCount, unavailable } from './environment.js';
import { STAGE_DIR } from './layout.js';
import { asRecord, decodeFrame, encodeFrames, readFrames, writeAll } from './stage-frames.js';
import { type LiveFrame, recordsInKeyOrder } from './stage-key-order.js';
import { describeCause, StoreError } from './store-error.js';

/** A stage's records: read afresh from the stage each time they are iterated. */
export interface StagedRecords extends Iterable<EventRecord> {
  /** Distinct records. */
  readonly size: number;
  /**
   * The same records in `events` key order (start, then id): each iteration ranks them in one
   * pass over the stage and sorts them through a scratch file beside it (stage-key-order.ts).
   */
  inKeyOrder(): Iterable<EventRecord>;
}

/**
 * Where a feed's records wait while the feed is still arriving (a partner's body, a cluster
 * batch's parts), so that no write transaction of the store stays open across the network. A
 * record staged twice keeps its last value, as a feed applied in one transaction would. Records
 * come back once per id, in the order they were last staged, from one snapshot.
 */
export interface FeedStage {
  readonly name: string;
  /** Stages records (one write and one small transaction, no fsync: a stage never outlives its process). */
  add(records: readonly EventRecord[]): void;
  /** Distinct records staged. */
  size(): number;
  records(): StagedRecords;
  /**
   * Empties the stage for the next feed: its files are deleted, not only its records, because
   * a failed feed must not keep its disk space (a full disk would then refuse even the record
   * of the failure).
   */
  clear(): Promise<void>;
  close(): Promise<void>;
}

/** Mapped address space, not memory: the largest id index a stage can hold. */
const INDEX_MAP_SIZE = 1024 ** 3;

/** The directory of one stage inside a store directory. */
export function stagePath(storePath: string, name: string): string {
  return join(storePath, STAGE_DIR, name);
}

/**
 * A stage, empty (the writer deletes every stage when it opens the store: one written without
 * fsync may be torn). Its files are created at the first record and deleted by `clear`. Only
 * the store's writer opens stages.
 *
 * The records are appended to a plain file, never mapped: LMDB keeps every page it writes
 * resident in the process, so a stage in LMDB added the whole feed's size to the ingestor's
 * RSS while it arrived and again while it was applied (~35 MiB for a 1 GB feed). The file's
 * pages stay in the page cache, which the kernel reclaims. A small LMDB index (id → the
 * offset of its last staging) makes a record staged again replace the earlier one.
 */
export function openFeedStage(storePath: string, name: string): FeedStage {
  const path = stagePath(storePath, name);
  let opened: { fd: number; index: RootDatabase<number, string> } | undefined;
  let written = 0;
  /** Records staged, counting each staging of an id: more than the index holds if any was staged again. */
  let staged = 0;

  const files = (): { fd: number; index: RootDatabase<number, string> } => {
    if (opened !== undefined) return opened;
    try {
      mkdirSync(path, { recursive: true });
      const index = open<number, string>({
        path: join(path, 'index'),
        noSubdir: false,
        mapSize: INDEX_MAP_SIZE,
        noSync: true,
        encoding: 'msgpack',
      });
      opened = { fd: openSync(join(path, 'records'), 'w+'), index };
    } catch (cause) {
      throw unavailable(path, cause);
    }
    return opened;
  };
  const discard = async (): Promise<void> => {
    const closing = opened;
    opened = undefined;
    written = 0;
    staged = 0;
    if (closing !== undefined) {
      closeSync(closing.fd);
      await closing.index.close();
    }
    try {
      rmSync(path, { recursive: true, force: true });
    } catch (cause) {
      throw unavailable(path, cause, 'delete');
    }
  };

  return {
    name,
    add(records) {
      if (records.length === 0) return;
      const { fd, index } = files();
      const { bytes, offsets } = encodeFrames(records, written);
      try {
        writeAll(fd, bytes, written);
        index.transactionSync(() => {
          for (const [i, r] of records.entries()) index.putSync(r.id, offsets[i]!);
        });
      } catch (cause) {
        throw new StoreError(
          'store_write_failed',
          `staging records failed: ${describeCause(cause)}`,
          {
            cause,
          },
        );
      }
      written += bytes.length;
      staged += records.length;
    },
    size: () => (opened === undefined ? 0 : entryCount(opened.index)),
    records() {
      const files = opened;
      const end = written;
      const stagings = staged;
      /** The live frames, decoded, in the order staged. */
      function* live(): Generator<LiveFrame & { record: EventRecord }> {
        if (files === undefined) return;
        const { fd, index } = files;
        // Only a stage holding an id twice has frames to pass over: the others are read
        // without a lookup per record.
        const restaged = stagings > entryCount(index);
        for (const { offset, body } of readFrames(fd, end)) {
          const record = asRecord(decodeFrame(body));
          // An id staged again later: its last staging is the one that counts.
          if (restaged && index.get(record.id) !== offset) continue;
          yield { offset, length: body.length, id: record.id, startsAt: record.startsAt, record };
        }
      }
      return {
        size: files === undefined ? 0 : entryCount(files.index),
        *[Symbol.iterator]() {
          for (const { record } of live()) yield record;
        },
        inKeyOrder: () => ({
          [Symbol.iterator]: () =>
            files === undefined
              ? [][Symbol.iterator]()
              : recordsInKeyOrder(files.fd, end, live(), join(path, 'key-order')),
        }),
      };
    },
    clear: discard,
    close: discard,
  };
}
