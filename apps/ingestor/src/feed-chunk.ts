/**
 * A chunk for one parse task: whole elements, and where runs of them end inside it. A worker
 * decodes and reads a chunk one run at a time (see parse-worker.ts).
 */
export interface FeedChunk {
  bytes: Buffer;
  /** Offsets in `bytes` (ascending, each after a closing tag in markup) where a run ends. */
  runEnds: readonly number[];
}

/**
 * About how long a run is. Decoded and condensed one run at a time, a worker's strings are
 * small enough for V8's young generation and its caches, where a whole 1 MiB chunk becomes one
 * malloc'd external string: measured on the 1 GB feed with two threads, 0.89 of the CPU per
 * feed (five alternating pairs), the same peak RSS. A JSON run's objects, likewise, die young.
 */
export const RUN_BYTES = 60_000;

/**
 * The run ends inside each range (ascending, disjoint, as a splitter cuts them), relative to the
 * range's start; a range's own end closes its last run. One pass over `ends`.
 */
export function runEndsIn(
  ends: readonly number[],
  ranges: ReadonlyArray<readonly [from: number, to: number]>,
): number[][] {
  let next = 0;
  return ranges.map(([from, to]) => {
    while (next < ends.length && ends[next]! <= from) next++;
    const inside: number[] = [];
    while (next < ends.length && ends[next]! < to) inside.push(ends[next++]! - from);
    return inside;
  });
}
