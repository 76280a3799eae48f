import { createRandom } from '@tessera/simulator';
import { describe, expect, it } from 'vitest';
import { inOrder } from '../src/in-order-delivery.js';

const SEED = Number(process.env.DELIVERY_SEED ?? 4);

/** A result that settles after a seeded number of turns. */
function later<T>(value: T, turns: number, fail = false): Promise<T> {
  return new Promise((resolve, reject) => {
    const step = (left: number) => {
      if (left > 0) setImmediate(() => step(left - 1));
      else if (fail) reject(new Error(`failed at ${value}`));
      else resolve(value);
    };
    step(turns);
  });
}

async function* count(n: number, read: number[] = []): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) {
    read.push(i);
    yield i;
  }
}

describe(`in-order delivery (DELIVERY_SEED=${SEED})`, () => {
  it('yields results settling in any order in the order their work started, with at most maxInFlight started and not yielded', async () => {
    const random = createRandom(SEED);
    const turns = Array.from({ length: 200 }, () => Math.floor(random() * 20));
    let started = 0;
    let most = 0;
    const yielded: number[] = [];
    const start = (i: number) => {
      started++;
      most = Math.max(most, started - yielded.length);
      return later(i, turns[i]!);
    };
    for await (const n of inOrder(count(200), start, 4)) yielded.push(n);
    expect(yielded).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(most).toBeLessThanOrEqual(4);
  });

  it('yields a settled result while the next item has not come', async () => {
    const gate = Promise.withResolvers<void>();
    async function* items(): AsyncGenerator<number> {
      yield 1;
      await gate.promise;
      yield 2;
    }
    const results = inOrder(items(), (n) => later(n, 2), 8);
    expect((await results.next()).value).toBe(1);
    gate.resolve();
    expect((await results.next()).value).toBe(2);
    expect((await results.next()).done).toBe(true);
  });

  it('throws the first failure at its own position, after the results before it, and reads no further', async () => {
    const yielded: number[] = [];
    const read: number[] = [];
    const start = (i: number) => later(i, i === 2 ? 1 : 3, i === 2);
    await expect(
      (async () => {
        for await (const n of inOrder(count(100, read), start, 4)) yielded.push(n);
      })(),
    ).rejects.toThrow('failed at 2');
    expect(yielded).toEqual([0, 1]);
    expect(read.length).toBeLessThanOrEqual(2 + 4);
  });

  it('lets a consumer stop while the next item is held, without waiting for it, and closes the items once it comes', async () => {
    const gate = Promise.withResolvers<void>();
    let closed = false;
    async function* items(): AsyncGenerator<number> {
      try {
        yield 1;
        await gate.promise;
        yield 2;
      } finally {
        closed = true;
      }
    }
    const results = inOrder(items(), (n) => later(n, 1), 8);
    expect((await results.next()).value).toBe(1);
    // The consumer gives up while item 2 is held (a partner holding its body): it must not
    // wait for the partner.
    const stopped = await Promise.race([
      results.return(undefined).then(() => 'stopped'),
      later('waited', 50),
    ]);
    expect(stopped).toBe('stopped');
    expect(closed).toBe(false);
    gate.resolve();
    await later(0, 5);
    expect(closed).toBe(true);
  });

  it('adds up the time spent waiting for results', async () => {
    const waited = { waitMs: 0 };
    const slow = (i: number) => new Promise<number>((r) => setTimeout(() => r(i), 30));
    for await (const _ of inOrder(count(2), slow, 4, waited)) {
      // read through
    }
    expect(waited.waitMs).toBeGreaterThanOrEqual(25);
  });
});
