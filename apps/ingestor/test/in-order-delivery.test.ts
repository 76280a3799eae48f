import { createRandom } from '@tessera/simulator';
import { describe, expect, it } from 'vitest';
import { createInOrderDelivery } from '../src/in-order-delivery.js';

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

describe(`in-order delivery (DELIVERY_SEED=${SEED})`, () => {
  it('delivers results settling in any order in the order they were added, holding at most maxInFlight', async () => {
    const random = createRandom(SEED);
    const delivered: number[] = [];
    let addedNotDelivered = 0;
    let most = 0;
    const delivery = createInOrderDelivery<number>((n) => {
      delivered.push(n);
      addedNotDelivered--;
    }, 4);
    for (let i = 0; i < 200; i++) {
      addedNotDelivered++;
      most = Math.max(most, addedNotDelivered);
      await delivery.add(later(i, Math.floor(random() * 20)));
    }
    await delivery.settled();
    expect(delivered).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(most).toBeLessThanOrEqual(4);
  });

  it('fails every later delivery with the first failure, and delivers nothing after stop', async () => {
    const delivered: number[] = [];
    const failing = createInOrderDelivery<number>((n) => {
      delivered.push(n);
    }, 8);
    await failing.add(later(1, 3));
    await failing.add(later(2, 1, true));
    await failing.add(later(3, 0));
    await expect(failing.settled()).rejects.toThrow('failed at 2');
    expect(delivered).toEqual([1]);

    const stopped: number[] = [];
    const stopping = createInOrderDelivery<number>((n) => {
      stopped.push(n);
    }, 8);
    await stopping.add(later(1, 0));
    await stopping.settled();
    await stopping.add(later(2, 5));
    stopping.stop();
    await stopping.settled();
    expect(stopped).toEqual([1]);
  });
});
