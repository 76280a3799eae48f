import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { EventRecord } from '@tessera/core';
import { type Database, open, type RootDatabase } from 'lmdb';
import { unavailable } from './environment.js';
import { STAGE_DIR } from './layout.js';
import { describeCause, StoreError } from './store-error.js';

type Staged = [id: string, startsAt: number, endsAt: number, summary: string];

/**
 * Where a feed's records wait while the feed is still arriving (a partner's body, a cluster
 * batch's parts), so that no write transaction of the store stays open across the network. A
 * record staged twice keeps its last value, as a feed applied in one transaction would. Records
 * come back once per id, in the order they were last staged, from one snapshot.
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

interface Tables {
  root: RootDatabase;
  /** Arrival number → record: the table records() walks. */
  records: Database<Staged, number>;
  /** id → its arrival number, so that a record staged again replaces the earlier one. */
  latest: Database<number, string>;
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
  let opened: Tables | undefined;
  let staged = 0;
  const remove = (): void => {
    try {
      rmSync(path, { recursive: true, force: true });
    } catch (cause) {
      throw unavailable(path, cause, 'delete');
    }
  };

  const tables = (): Tables => {
    if (opened !== undefined) return opened;
    try {
      mkdirSync(path, { recursive: true });
      const root = open({
        path,
        noSubdir: false,
        mapSize: STAGE_MAP_SIZE,
        noSync: true,
        maxDbs: 2,
      });
      opened = {
        root,
        records: root.openDB<Staged, number>({ name: 'records', encoding: 'msgpack' }),
        latest: root.openDB<number, string>({ name: 'latest', encoding: 'msgpack' }),
      };
    } catch (cause) {
      throw unavailable(path, cause);
    }
    return opened;
  };
  const discard = async (): Promise<void> => {
    const closing = opened;
    opened = undefined;
    staged = 0;
    await closing?.root.close();
    remove();
  };

  return {
    name,
    add(records) {
      if (records.length === 0) return;
      const { root, records: byArrival, latest } = tables();
      try {
        root.transactionSync(() => {
          for (const r of records) {
            // Appended in arrival order: each put touches the end of the table only, so the
            // stage's pages are not all mapped in while a large feed arrives (random ids would
            // visit every leaf). The small id index finds an id staged before.
            const before = latest.get(r.id);
            if (before !== undefined) byArrival.removeSync(before);
            staged += 1;
            latest.putSync(r.id, staged);
            byArrival.putSync(staged, [r.id, r.startsAt, r.endsAt, r.summary], { append: true });
          }
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
    size: () => (opened?.latest.getStats() as { entryCount: number } | undefined)?.entryCount ?? 0,
    *records() {
      if (opened === undefined) return;
      for (const { value } of opened.records.getRange({})) {
        const [id, startsAt, endsAt, summary] = value;
        yield { id, startsAt, endsAt, summary };
      }
    },
    clear: discard,
    close: discard,
  };
}
