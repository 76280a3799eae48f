import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { entryCount, openForReading, readHead } from './environment.js';
import { DATA_FILE, type Head } from './layout.js';
import { StoreError } from './store-error.js';

export interface BackupReport {
  /** What the copy holds: the head of the last transaction committed before the copy began. */
  head: Head;
  events: number;
  bytes: number;
}

/**
 * Copies the store at `path` into the directory `target` with LMDB's own copy (mdb_env_copy2,
 * compacting): one read transaction, so the copy is exactly the last committed transaction,
 * whatever the writer does meanwhile (it never waits for the copy, nor the copy for it). The
 * copy is a store of its own: `DATA_DIR` can point at it. Taken by a process of its own, read
 * only; `target` must be new or empty, so that a backup never overwrites anything.
 */
export async function backupStore(path: string, target: string): Promise<BackupReport> {
  refuseTarget(target);
  const env = openForReading(path);
  if (env === undefined) {
    throw new StoreError('store_unavailable', `there is no store at ${path} to back up`);
  }
  try {
    mkdirSync(target, { recursive: true });
    const file = join(target, DATA_FILE);
    // The copy takes its own snapshot, at or after this one: it holds this head or a later one.
    const head = readHead(env);
    // The environment is a directory (noSubdir: false): LMDB copies into target/data.mdb.
    await env.root.backup(target, true);
    const copy = openForReading(target);
    if (copy === undefined) throw new Error('the copy is not a store');
    try {
      const copied = readHead(copy);
      if (copied.storeId !== head.storeId || copied.version < head.version) {
        throw new Error(`the copy holds ${copied.version}, the store held ${head.version}`);
      }
      const events = entryCount(copy.events);
      return { head: copied, events, bytes: statSync(file).size };
    } finally {
      await copy.root.close();
    }
  } catch (cause) {
    if (cause instanceof StoreError) throw cause;
    throw new StoreError(
      'store_unavailable',
      `backing up ${path} to ${target} failed: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  } finally {
    await env.root.close();
  }
}

function refuseTarget(target: string): void {
  if (!existsSync(target)) return;
  if (!statSync(target).isDirectory()) {
    throw new StoreError(
      'store_unavailable',
      `backup target ${target} exists and is not a directory`,
    );
  }
  if (readdirSync(target).length > 0) {
    throw new StoreError(
      'store_unavailable',
      `backup target ${target} is not empty: back up into a new directory`,
    );
  }
}
