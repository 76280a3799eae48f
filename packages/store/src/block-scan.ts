import { isInWindow, type QueryWindow } from '@tessera/core';
import { CursorScan, type RangeIterator } from './cursor-scan.js';
import { Block } from './event-blocks.js';

/**
 * Consecutive events of a scan: their summaries joined by commas (none before or after). `bytes`
 * may be a view of the store's read buffer, valid until the scan's next step or any other read
 * of the store: whoever keeps it copies it first (an answer copies it into its body anyway).
 */
export interface EventRun {
  bytes: Buffer;
  events: number;
}

/** A window's events as runs, in key order; closing it early releases its LMDB snapshot at once. */
export interface RunScan extends IterableIterator<EventRun> {
  return(): IteratorResult<EventRun, undefined>;
}

/**
 * The events of a window read from `blocks` (event-blocks.ts): a cursor step per block, not per
 * event, and each block's events in the window handed out as runs of bytes, views of the block.
 * Block values are read in place, valid until the next read: a block whose events in the window
 * are not one run is copied first, since its later runs may be asked for after other reads (a
 * slice of an answer ends, other requests read). The range begins at the last block that begins before the
 * window, which may hold its first events, and ends after the last block beginning in it.
 */
export class BlockScan extends CursorScan<EventRun> {
  #runs: EventRun[] = [];
  #at = 0;

  constructor(
    range: RangeIterator,
    private readonly window: QueryWindow,
    open: Set<CursorScan<unknown>>,
    path: string,
  ) {
    super(range, open, path);
  }

  protected step(): EventRun | undefined {
    while (this.#at === this.#runs.length) {
      const next = this.range.next();
      if (next.done === true) return undefined;
      this.#runs = runsInBlock(next.value.value, this.window);
      this.#at = 0;
    }
    return this.#runs[this.#at++];
  }
}

/** The block's events that are in the window, each stretch of consecutive ones as one run. */
function runsInBlock(value: Buffer, window: QueryWindow): EventRun[] {
  let block = new Block(value);
  const stretches: Array<[number, number]> = [];
  const inWindow = (i: number): boolean => isInWindow(window, block.startsAt(i), block.endsAt(i));
  let i = 0;
  while (i < block.count) {
    while (i < block.count && !inWindow(i)) i++;
    let j = i;
    while (j < block.count && inWindow(j)) j++;
    if (j > i) stretches.push([i, j]);
    i = j;
  }
  if (stretches.length > 1) block = new Block(Buffer.from(value));
  return stretches.map(([from, to]) => ({ bytes: block.run(from, to), events: to - from }));
}

/** A scan of single events as runs of one: how a store without current blocks is read. */
export function runsOfEvents(scan: Iterator<Buffer> & { return?(): unknown }): RunScan {
  return {
    [Symbol.iterator]() {
      return this;
    },
    next() {
      const next = scan.next();
      return next.done === true
        ? { done: true, value: undefined }
        : { done: false, value: { bytes: next.value, events: 1 } };
    },
    return() {
      scan.return?.();
      return { done: true, value: undefined };
    },
  };
}
