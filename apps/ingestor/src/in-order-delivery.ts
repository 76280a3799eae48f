/** How long the one consuming the results waited for them, in ms (added up by `inOrder`). */
export interface WaitTime {
  waitMs: number;
}

/**
 * Starts work for each item in order (`start`: a worker's task), whose results settle in any
 * order, and yields the results in the order their work was started. At most `maxInFlight` are
 * started and not yet yielded: once that many are, the oldest is waited for and yielded before
 * the next item is read (backpressure on whoever produces the items); the rest are yielded at
 * the items' end. A failure is thrown at its own position, after the results before it; what is
 * still in flight then is left to settle unread.
 *
 * Written here rather than taken from p-map's `pMapIterable`: that one reads its items ahead
 * on several concurrent pulls, where a feed's chunks are 1 MiB each and a streaming parser's
 * pieces must be posted strictly one after another.
 */
export async function* inOrder<I, T>(
  items: AsyncIterable<I>,
  start: (item: I) => Promise<T>,
  maxInFlight: number,
  waited: WaitTime = { waitMs: 0 },
): AsyncGenerator<T> {
  const pending: Array<Promise<T>> = [];
  const oldest = async (): Promise<T> => {
    const started = performance.now();
    const value = await pending.shift()!;
    waited.waitMs += performance.now() - started;
    return value;
  };
  for await (const item of items) {
    const result = start(item);
    // Read in turn below; not unhandled meanwhile, nor if the consumer stops first.
    result.catch(() => {});
    pending.push(result);
    if (pending.length >= maxInFlight) yield await oldest();
  }
  while (pending.length > 0) yield await oldest();
}
