import { waitUntil } from '@tessera/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { createFeedLoop, type FeedLoop } from '../src/feed-loop.js';
import { createHarness, type Harness } from './harness.js';

let h: Harness | undefined;
let ingestor: FeedLoop | undefined;
afterEach(async () => {
  await ingestor?.stop();
  await h?.close();
  h = undefined;
  ingestor = undefined;
});

/** An ingestor whose interval is a minute: any other poll in a test is one it was asked for. */
function slowIngestor(harness: Harness, options: { paused?: boolean } = {}): FeedLoop {
  return createFeedLoop(
    {
      ...harness.deps,
      pollIntervalMs: 60_000,
      backoff: { baseMs: 100, maxMs: 1_000 },
      storeFailureLimit: 5,
    },
    options,
  );
}

describe('createFeedLoop', () => {
  it('backs off after failures, honours Retry-After, and returns to the interval after a success', async () => {
    h = await createHarness({
      plan: {
        steps: [
          { kind: 'status', status: 503 },
          { kind: 'status', status: 429, retryAfterSeconds: 1 },
        ],
        afterwards: 'none',
      },
    });
    const times: number[] = [];
    h.sim.server.on('request', () => times.push(Date.now()));
    ingestor = createFeedLoop({
      ...h.deps,
      pollIntervalMs: 600,
      backoff: { baseMs: 100, maxMs: 5_000 },
      storeFailureLimit: 5,
      random: () => 0, // jitter drawn at its floor: the Retry-After alone sets the wait
    });
    void ingestor.run();
    await waitUntil(() => times.length >= 5);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(gaps[0]).toBeLessThan(400); // 503: jittered backoff, here 0 ms
    expect(gaps[1]).toBeGreaterThanOrEqual(950); // 429 with Retry-After: 1
    expect(gaps[2]).toBeGreaterThanOrEqual(550); // success: the normal interval
    expect(gaps[3]).toBeGreaterThanOrEqual(550);
    expect(h.store.state('feverup').consecutiveFailures).toBe(0);
  });

  it('keeps at most one poll in flight', async () => {
    h = await createHarness({ plan: { steps: [{ kind: 'delay', ms: 300 }], afterwards: 'none' } });
    ingestor = createFeedLoop({
      ...h.deps,
      pollIntervalMs: 60_000,
      backoff: { baseMs: 100, maxMs: 1_000 },
      storeFailureLimit: 5,
    });
    const [a, b] = [ingestor.pollOnce(), ingestor.pollOnce()];
    expect(a).toBe(b);
    await a;
    expect(h.sim.state().requests).toBe(1);
  });

  it('stops promptly, aborting a poll in flight without writing it', async () => {
    h = await createHarness({
      plan: { steps: [{ kind: 'drip', bytesPerTick: 10, intervalMs: 100 }], afterwards: 'none' },
    });
    ingestor = createFeedLoop({
      ...h.deps,
      pollIntervalMs: 60_000,
      backoff: { baseMs: 100, maxMs: 1_000 },
      storeFailureLimit: 5,
    });
    void ingestor.run();
    await waitUntil(() => h!.sim.state().requests === 1);
    const started = Date.now();
    await ingestor.stop();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(h.store.count()).toBe(0);
  });

  it('polls at once when asked, and not at all while paused, until resumed', async () => {
    h = await createHarness();
    const requests = () => h!.sim.state().requests;
    ingestor = slowIngestor(h);
    void ingestor.run();
    await waitUntil(() => requests() === 1 && h!.store.count() > 0, { what: 'the first poll' });
    // The interval is a minute: only "poll now" brings the next request this soon.
    expect(ingestor.pollNow()).toBe(true);
    await waitUntil(() => requests() === 2, { what: 'the poll asked for', timeoutMs: 1_000 });
    ingestor.pause();
    expect(ingestor.paused).toBe(true);
    expect(ingestor.pollNow()).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(requests()).toBe(2);
    ingestor.resume();
    await waitUntil(() => requests() === 3, { what: 'the poll on resume', timeoutMs: 1_000 });
  });

  it('starts paused when told so, and asking it to poll during a poll polls once', async () => {
    h = await createHarness({ plan: { steps: [{ kind: 'delay', ms: 300 }], afterwards: 'none' } });
    const requests = () => h!.sim.state().requests;
    ingestor = slowIngestor(h, { paused: true });
    void ingestor.run();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(requests()).toBe(0);
    ingestor.resume();
    await waitUntil(() => requests() === 1, { what: 'the first poll', timeoutMs: 1_000 });
    expect(ingestor.pollNow()).toBe(true);
    await waitUntil(() => h!.store.count() > 0, { what: 'the first apply' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(requests()).toBe(1);
  });

  it('does not miss a resume that comes before the loop waits', async () => {
    h = await createHarness();
    const requests = () => h!.sim.state().requests;
    ingestor = slowIngestor(h, { paused: true });
    // Woken, then paused again, before the loop's first wait: the next resume must still wake it.
    ingestor.resume();
    ingestor.pause();
    void ingestor.run();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(requests()).toBe(0);
    ingestor.resume();
    await waitUntil(() => requests() === 1, { what: 'the poll on resume', timeoutMs: 1_000 });
  });
});
