import { BUILT_IN_FORMAT } from '@tessera/mapping';
import { createProviderSim, type ProviderSim } from '@tessera/simulator';
import { waitUntil } from '@tessera/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { FeedConfig } from '../src/feed-config.js';
import { createFeedSet, type FeedSet, type SharedDeps, summedProgress } from '../src/feed-set.js';
import { createHarness, type Harness, silent } from './harness.js';

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

describe('createFeedSet', () => {
  let h: Harness | undefined;
  let other: ProviderSim | undefined;
  let set: FeedSet | undefined;
  afterEach(async () => {
    await set?.stop();
    await other?.close();
    await h?.close();
    set = other = h = undefined;
  });

  const feed = (id: string, url: string, pollIntervalMs = 60_000): FeedConfig => ({
    id,
    url,
    timeZone: 'UTC',
    pollIntervalMs,
    headers: {},
    format: BUILT_IN_FORMAT,
  });
  const sharedOf = (harness: Harness): SharedDeps => ({
    pool: harness.pool,
    log: silent,
    chunkBytes: 64 * 1024,
    maxElementBytes: 4 * 1024 * 1024,
    deadlineMs: 10_000,
    backoff: { baseMs: 50, maxMs: 200 },
    storeFailureLimit: 5,
  });
  const limits = {
    connectTimeoutMs: 2_000,
    headersTimeoutMs: 2_000,
    bodyIdleTimeoutMs: 2_000,
    maxFeedBytes: 64 * 1024 * 1024,
  };

  it('reloads: an added feed starts, a removed one stops and keeps its events, an unchanged one runs on', async () => {
    h = await createHarness();
    other = createProviderSim({ compress: true });
    const otherUrl = await other.listen();
    const a = feed('a', h.fetcherOptions.url, 100);
    set = createFeedSet([a], h.store, sharedOf(h), limits);
    void set.run();
    await waitUntil(() => h!.store.feeds().some((f) => f.id === 'a' && f.events > 0), {
      what: 'feed a applied',
    });
    const loopA = set.loop('a');
    const changes = await set.reload([a, feed('b', otherUrl)]);
    expect(changes).toEqual({ added: ['b'], removed: [], changed: [] });
    expect(set.loop('a')).toBe(loopA);
    await waitUntil(() => h!.store.feeds().some((f) => f.id === 'b' && f.events > 0), {
      what: 'feed b applied',
    });
    expect(h.store.feeds().map((f) => [f.id, f.configured])).toEqual([
      ['a', true],
      ['b', true],
    ]);
    expect(await set.reload([feed('b', otherUrl)])).toEqual({
      added: [],
      removed: ['a'],
      changed: [],
    });
    expect(set.loop('a')).toBeUndefined();
    const requests = h.sim.state().requests;
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(h.sim.state().requests).toBe(requests);
    const kept = h.store.feeds().find((f) => f.id === 'a');
    expect(kept).toMatchObject({ configured: false });
    expect(kept?.events).toBeGreaterThan(0);
    // A changed setting restarts that feed's loop with it.
    expect(await set.reload([feed('b', otherUrl, 30_000)])).toEqual({
      added: [],
      removed: [],
      changed: ['b'],
    });
  });

  it('starts a feed an operator paused paused', async () => {
    h = await createHarness();
    h.store.recordPaused('a', true);
    set = createFeedSet([feed('a', h.fetcherOptions.url, 100)], h.store, sharedOf(h), limits);
    void set.run();
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(h.sim.state().requests).toBe(0);
    expect(set.loop('a')?.paused).toBe(true);
  });
});
