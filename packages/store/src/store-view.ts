import { isInWindow, type QueryWindow, startBounds } from '@tessera/core';
import { type Environment, readHead, unavailable } from './environment.js';
import { decodeEnd, type Head, STATE_KEY, summaryBytes } from './layout.js';
import { type ReplicationStatus, readReplicationStatus } from './replication-status.js';
import { StoreError } from './store-error.js';
import { INITIAL_STATE, type StoreState, StoreStateSchema } from './store-state.js';

/** What every process may read: the same for the API's reader and the ingestor's writer. */
export interface StoreView {
  /** The store id and version, which together name the content (ETags derive from them). */
  head(): Head;
  state(): StoreState;
  count(): number;
  /**
   * Pre-serialized summaries of the events in the window, in start order. Closing the iterator
   * early (`return()`, or leaving a for-of) releases its LMDB snapshot at once.
   */
  scan(window: QueryWindow): IterableIterator<Buffer>;
  /** Cluster mode: the ingestor's view of the cluster; null in single mode. */
  replication(): ReplicationStatus | null;
}

/** Head of a store that does not exist yet: nothing stored, no id to name. */
export const ABSENT_HEAD: Head = { storeId: 'none', version: 0 };

export const EMPTY_VIEW: StoreView = {
  head: () => ABSENT_HEAD,
  state: () => INITIAL_STATE,
  count: () => 0,
  scan: () => [][Symbol.iterator](),
  replication: () => null,
};

export function viewOf(env: Environment): StoreView {
  const read = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (cause) {
      throw cause instanceof StoreError ? cause : unavailable(env.path, cause, 'read');
    }
  };
  return {
    replication: () => readReplicationStatus(env.path),
    head: () => read(() => readHead(env)),
    state: () =>
      read(() => {
        const raw = env.meta.get(STATE_KEY);
        return raw === undefined ? INITIAL_STATE : StoreStateSchema.parse(raw);
      }),
    count: () => read(() => (env.events.getStats() as { entryCount: number }).entryCount),
    *scan(window) {
      const { from, to } = startBounds(window);
      // Keys are [startsAt, id]: [to + 1] sorts after every key starting at `to` (whole ms).
      const range = read(() =>
        env.events.getRange({
          start: from === null ? undefined : [from],
          end: to === null ? undefined : [to + 1],
        }),
      );
      try {
        for (const { key, value } of range) {
          if (isInWindow(window, key[0], decodeEnd(value))) yield summaryBytes(value);
        }
      } catch (cause) {
        throw cause instanceof StoreError ? cause : unavailable(env.path, cause, 'read');
      }
    },
  };
}
