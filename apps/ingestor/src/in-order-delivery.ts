/**
 * Results that settle in any order (a worker's answers), delivered in the order they were added,
 * each as soon as it and every one before it settled; a failure fails every later one. At most
 * `maxInFlight` are outstanding: `add` waits while more are (backpressure on the one adding).
 */
export interface InOrderDelivery<T> {
  add(result: Promise<T>): Promise<void>;
  /** Resolves once everything added is delivered; rejects with the first failure. */
  settled(): Promise<void>;
  /** Delivers nothing more (the poll failed or stopped). */
  stop(): void;
}

export function createInOrderDelivery<T>(
  deliver: (value: T) => void | Promise<void>,
  maxInFlight: number,
): InOrderDelivery<T> {
  /** One promise per result not yet waited for, settled once it has been delivered. */
  const outstanding: Promise<void>[] = [];
  let last: Promise<void> = Promise.resolve();
  let stopped = false;
  return {
    async add(result) {
      result.catch(() => {}); // read in turn, below, not unhandled meanwhile
      last = last
        .then(() => result)
        .then((value) => {
          if (!stopped) return deliver(value);
        });
      last.catch(() => {}); // surfaced by whoever waits for it
      outstanding.push(last);
      while (outstanding.length >= maxInFlight) await outstanding.shift();
    },
    async settled() {
      outstanding.length = 0;
      await last;
    },
    stop() {
      stopped = true;
    },
  };
}
