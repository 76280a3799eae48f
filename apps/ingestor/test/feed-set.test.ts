import { describe, expect, it } from 'vitest';
import { summedProgress } from '../src/feed-set.js';

describe('summedProgress', () => {
  it("shows every feed's bytes and events together, each feed counted at its latest", () => {
    const shown: Array<{ bytes: number; events: number }> = [];
    const of = summedProgress((p) => shown.push(p));
    const a = of('a');
    const b = of('b');
    a?.({ bytes: 100, events: 1 });
    b?.({ bytes: 50, events: 2 });
    a?.({ bytes: 300, events: 4 });
    expect(shown).toEqual([
      { bytes: 100, events: 1 },
      { bytes: 150, events: 3 },
      { bytes: 350, events: 6 },
    ]);
  });

  it('gives no callback when nothing is displayed', () => {
    expect(summedProgress(undefined)('a')).toBeUndefined();
  });
});
