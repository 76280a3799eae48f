/** How long the one consuming the results waited for them, in ms (added up by `inOrder`). */
export interface WaitTime {
  waitMs: number;
}

/**
 * Starts work for each item in order (`start`: a worker's task), whose results settle in any
 * order, and yields the results in the order their work was started, each as soon as it and
 * every earlier one settled, whether or not the next item has come: a feed's records reach the
 * stage while the rest of it is still arriving, however slowly. At most `maxInFlight` are
 * started and not yet yielded; the items are not read further while that many are
 * (backpressure on whoever produces them). A failure is thrown at its own position, after the
 * results before it; what is still in flight then is left to settle unread.
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
  const iterator = items[Symbol.asyncIterator]();
  const pending: Array<Promise<T>> = [];
  let coming: Promise<IteratorResult<I>> | undefined;
  let done = false;
  const oldest = async (): Promise<T> => {
    const started = performance.now();
    const value = await pending.shift()!;
    waited.waitMs += performance.now() - started;
    return value;
  };
  try {
    while (!done || pending.length > 0) {
      if (pending.length > 0 && (done || pending.length >= maxInFlight)) {
        yield await oldest();
        continue;
      }
      coming ??= iterator.next();
      if (pending.length > 0 && (await firstSettled(pending[0]!, coming)) === 'result') {
        yield await oldest();
        continue;
      }
      const next = await coming;
      coming = undefined;
      if (next.done === true) {
        done = true;
        continue;
      }
      const result = start(next.value);
      // Read in turn above; not unhandled meanwhile, nor if the consumer stops first.
      result.catch(() => {});
      pending.push(result);
    }
  } finally {
    if (!done) await closeItems(iterator, coming);
  }
}

/**
 * Closes the items of an iteration stopped early. An item still coming (a body the partner
 * holds) is not waited for: whoever stopped the iteration aborts its source too, which settles
 * it, and the close runs then.
 */
async function closeItems<I>(
  iterator: AsyncIterator<I>,
  coming: Promise<IteratorResult<I>> | undefined,
): Promise<void> {
  if (coming === undefined) {
    await iterator.return?.();
    return;
  }
  coming.catch(() => {});
  iterator.return?.()?.catch(() => {});
}

/** Which settles first: the oldest result, or the next item. */
function firstSettled(
  result: Promise<unknown>,
  item: Promise<unknown>,
): Promise<'result' | 'item'> {
  const settled = (which: 'result' | 'item') => () => which;
  return Promise.race([
    result.then(settled('result'), settled('result')),
    item.then(settled('item'), settled('item')),
  ]);
}
