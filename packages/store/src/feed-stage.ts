import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { EventRecord } from '@tessera/core';
import { open, type RootDatabase } from 'lmdb';
import { unavailable } from './environment.js';
import { STAGE_DIR } from './layout.js';
import { describeCause, StoreError } from './store-error.js';

type Staged = [startsAt: number, endsAt: number, summary: string];

/**
 * Where a feed's records wait while the feed is still arriving (a partner's body, a cluster
 * batch's parts), so that no write transaction of the store stays open across the network. A
 * record staged twice keeps its last value, as a feed applied in one transaction would. Records
 * come back in id order, from one snapshot.
 */
export interface FeedStage {
  readonly name: string;
  /** Stages records (one small transaction, no fsync: a stage never outlives its process). */
  add(records: readonly EventRecord[]): void;
  /** Distinct records staged. */
  size(): number;
  records(): IterableIterator<EventRecord>;
  /**
   * Empties the stage for the next feed: its files are deleted, not only its records, because
   * an LMDB file never shrinks and a failed feed must not keep its disk space (a full disk
   * would then refuse even the record of the failure).
   */
  clear(): Promise<void>;
  close(): Promise<void>;
}

/** Mapped address space, not memory: the largest feed a stage can hold. */
const STAGE_MAP_SIZE = 8 * 1024 ** 3;

/** The directory of one stage inside a store directory. */
export function stagePath(storePath: string, name: string): string {
  return join(storePath, STAGE_DIR, name);
}

/**
 * A stage, empty (the writer deletes every stage when it opens the store: one written without
 * fsync may be torn). Its environment is opened at the first record and deleted by `clear`.
 * Only the store's writer opens stages.
 */
export function openFeedStage(storePath: string, name: string): FeedStage {
  const path = stagePath(storePath, name);
  let root: RootDatabase<Staged, string> | undefined;
  const remove = (): void => {
    try {
      rmSync(path, { recursive: true, force: true });
    } catch (cause) {
      throw unavailable(path, cause, 'delete');
    }
  };

  const opened = (): RootDatabase<Staged, string> => {
    if (root !== undefined) return root;
    try {
      mkdirSync(path, { recursive: true });
      root = open<Staged, string>({
        path,
        noSubdir: false,
        mapSize: STAGE_MAP_SIZE,
        noSync: true,
        encoding: 'msgpack',
      });
    } catch (cause) {
      throw unavailable(path, cause);
    }
    return root;
  };
  const discard = async (): Promise<void> => {
    const closing = root;
    root = undefined;
    await closing?.close();
    remove();
  };

  return {
    name,
    add(records) {
      if (records.length === 0) return;
      const db = opened();
      try {
        db.transactionSync(() => {
          for (const r of records) db.putSync(r.id, [r.startsAt, r.endsAt, r.summary]);
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
    },
    size: () => (root?.getStats() as { entryCount: number } | undefined)?.entryCount ?? 0,
    *records() {
      if (root === undefined) return;
      for (const { key, value } of root.getRange({})) {
        yield { id: key, startsAt: value[0], endsAt: value[1], summary: value[2] };
      }
    },
    clear: discard,
    close: discard,
  };
}
