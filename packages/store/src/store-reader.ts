import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Environment, openForReading } from './environment.js';
import { DATA_FILE } from './layout.js';
import { EMPTY_VIEW, type OwnedView, type StoreView, viewOf } from './store-view.js';

export interface OpenStoreReaderOptions {
  /** The store directory (DATA_DIR). */
  path: string;
  /** While the store is being created (its file exists, its databases not yet), how often to look again. */
  retryMs?: number;
}

/** A read-only handle for the API: never starts a write transaction, never waits for the writer. */
export interface StoreReader extends StoreView {
  /** False until the writer has created the store at the path. */
  exists(): boolean;
  /** LMDB's reader table, one line per slot in use (diagnostics and tests). */
  readerList(): string;
  close(): Promise<void>;
}

/**
 * Opens the store read-only. A store of another layout, or one that cannot be opened (EACCES,
 * EROFS…), fails at once with a StoreError naming the path and the cause. A store that does not
 * exist yet is not an error: the handle reads as empty and opens the store once the writer has
 * created it, so that the API can start before the first ingest.
 */
export function openStoreReader(options: OpenStoreReaderOptions): StoreReader {
  const retryMs = options.retryMs ?? 100;
  const dataFile = join(options.path, DATA_FILE);
  let env: Environment | undefined = openForReading(options.path);
  let owned: OwnedView | undefined = env === undefined ? undefined : viewOf(env);
  let view: StoreView = owned ?? EMPTY_VIEW;
  let nextAttemptAt = 0;
  let closed = false;

  // Only a store that does not exist yet pays for this: one stat per read until the writer has
  // created it, so that the first feed is visible as soon as it is committed.
  const current = (): StoreView => {
    if (env !== undefined || closed || !existsSync(dataFile)) return view;
    const now = Date.now();
    if (now < nextAttemptAt) return view;
    nextAttemptAt = now + retryMs;
    env = openForReading(options.path);
    if (env !== undefined) view = owned = viewOf(env);
    return view;
  };

  return {
    head: () => current().head(),
    state: (feed) => current().state(feed),
    feeds: () => current().feeds(),
    count: () => current().count(),
    digest: () => current().digest(),
    scan: (window, position) => current().scan(window, position),
    runs: (window) => current().runs(window),
    blocksCurrent: () => current().blocksCurrent(),
    event: (id) => current().event(id),
    changes: (after, limit) => current().changes(after, limit),
    exists() {
      current();
      return env !== undefined;
    },
    readerList: () => env?.root.readerList() ?? '',
    async close() {
      if (closed) return;
      closed = true;
      owned?.endScans();
      await env?.root.close();
    },
  };
}
