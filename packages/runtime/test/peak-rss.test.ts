import { fileURLToPath } from 'node:url';
import { startNode } from '@tessera/testkit';
import { describe, expect, it } from 'vitest';
import { peakRssBytes } from '../src/peak-rss.js';

const PRINT = fileURLToPath(new URL('./processes/print-peak-rss.mjs', import.meta.url));
const MiB = 1024 ** 2;

describe('peakRssBytes', () => {
  it("is the process's own peak, not the size of the large parent that started it", async () => {
    // 400 MiB resident in this process while the child starts (filled, so the pages are real).
    const ballast = Buffer.alloc(400 * MiB, 1);
    const child = startNode(PRINT, []);
    expect(await child.exited).toBe(0);
    const childPeak = Number(child.output().trim());
    expect(ballast[ballast.length - 1]).toBe(1);
    expect(peakRssBytes()).toBeGreaterThan(400 * MiB);
    // A bare node process peaks around 40–60 MiB.
    expect(childPeak).toBeGreaterThan(10 * MiB);
    expect(childPeak).toBeLessThan(200 * MiB);
    // Touching 400 MiB of fresh memory while every suite starts at once took over 20 s once on
    // this VM (2 s alone): what is checked here is which peak, not how fast.
  }, 90_000);
});
