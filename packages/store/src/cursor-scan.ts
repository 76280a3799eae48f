import { unavailable } from './environment.js';
import type { EventKey } from './layout.js';
import { StoreError } from './store-error.js';

export type RangeIterator = Iterator<{ key: EventKey; value: Buffer }>;

/**
 * What every scan over an LMDB cursor shares: it registers with its view until it is done, so
 * that the view's owner can end it before closing the environment (see OwnedView.endScans); it
 * releases its cursor and snapshot at once when done, returned early or ended; read again once
 * ended it throws `store_unavailable` rather than end as if its window were exhausted.
 */
export abstract class CursorScan<T> implements IterableIterator<T> {
  #state: 'open' | 'done' | 'ended' = 'open';

  constructor(
    protected readonly range: RangeIterator,
    private readonly open: Set<CursorScan<unknown>>,
    private readonly path: string,
  ) {
    open.add(this);
  }

  /** The next item read from the range; undefined once the range has no more. */
  protected abstract step(): T | undefined;

  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<T, undefined> {
    if (this.#state === 'ended') {
      throw unavailable(this.path, new Error('the store was closed during the scan'), 'read');
    }
    if (this.#state === 'done') return { done: true, value: undefined };
    try {
      const value = this.step();
      if (value !== undefined) return { done: false, value };
      this.#finish('done');
      return { done: true, value: undefined };
    } catch (cause) {
      this.#finish('done');
      throw cause instanceof StoreError ? cause : unavailable(this.path, cause, 'read');
    }
  }

  return(): IteratorResult<T, undefined> {
    this.#finish('done');
    return { done: true, value: undefined };
  }

  /** The store is closing: release the cursor now, and refuse to read on. */
  end(): void {
    this.#finish('ended');
  }

  #finish(state: 'done' | 'ended'): void {
    if (this.#state !== 'open') return;
    this.#state = state;
    this.open.delete(this);
    this.range.return?.();
  }
}
