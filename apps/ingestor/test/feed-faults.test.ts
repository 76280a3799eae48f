import type { Fault } from '@tessera/simulator';
import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function snapshot(harness: Harness) {
  return {
    version: harness.store.head().version,
    count: harness.store.count(),
    events: harness.summaries(),
  };
}

/** A good poll, then the fault: the store must be exactly as before, then the next good poll applies. */
async function expectDocumentFault(
  fault: Fault,
  code: string,
  options: Parameters<typeof createHarness>[0] = {},
  duringFault: Partial<Harness['deps']> = {},
) {
  h = await createHarness({
    source: { kind: 'fixtures', vocabulary: 'plan', response: 1 },
    ...options,
  });
  expect((await h.poll()).outcome).toBe('applied');
  const normal = { ...h.deps };
  Object.assign(h.deps, duringFault);
  const before = snapshot(h);
  h.sim.setSource({ kind: 'fixtures', vocabulary: 'plan', response: 3 });
  h.sim.setPlan({ steps: [fault], afterwards: 'none' });
  const failed = await h.poll();
  expect(failed.error?.code).toBe(code);
  expect(failed.outcome).toBe('failed');
  expect(snapshot(h)).toEqual(before);
  expect(h.store.state('feverup')).toMatchObject({ consecutiveFailures: 1, lastErrorCode: code });
  Object.assign(h.deps, normal);
  const next = await h.poll();
  expect(next.outcome).toBe('applied');
  // Response 3 changes Camela's end; Los Morancos ends as in response 1.
  expect(next.counts?.updated).toBe(1);
  expect(h.store.state('feverup')).toMatchObject({ consecutiveFailures: 0, lastErrorCode: null });
  return failed;
}

describe('document-level faults fail the poll and leave the store as it was', () => {
  it.each([
    [{ kind: 'status', status: 500 }, 'provider_status'],
    [{ kind: 'status', status: 502 }, 'provider_status'],
    [{ kind: 'status', status: 503 }, 'provider_status'],
    [{ kind: 'html200' }, 'feed_not_xml'],
    [{ kind: 'reset', afterBytes: 700 }, 'feed_interrupted'],
    [{ kind: 'truncate', afterBytes: 700 }, 'feed_interrupted'],
    [{ kind: 'malformed' }, 'feed_malformed'],
    [{ kind: 'wrong_root' }, 'feed_malformed'],
    [{ kind: 'deep_nesting', depth: 5_000 }, 'feed_malformed'],
  ] as Array<[Fault, string]>)('%j → %s', async (fault, code) => {
    await expectDocumentFault(fault, code);
  });

  it('429 is rate limiting, with Retry-After carried to the scheduler', async () => {
    const failed = await expectDocumentFault(
      { kind: 'status', status: 429, retryAfterSeconds: 7 },
      'provider_rate_limited',
    );
    expect(failed.retryAfterMs).toBe(7_000);
  });

  it('a DOCTYPE with an entity bomb and an external entity is refused, nothing expanded or fetched', async () => {
    await expectDocumentFault({ kind: 'entity_bomb' }, 'feed_malformed');
    expect(h?.sim.state().externalEntityHits).toBe(0);
  });

  it('a gzip bomb is stopped at MAX_FEED_BYTES of inflated data', async () => {
    const failed = await expectDocumentFault(
      { kind: 'gzip_bomb', inflatedBytes: 512 * 1024 * 1024 },
      'feed_too_large',
      {
        fetcher: { maxFeedBytes: 8 * 1024 * 1024 },
        // Spaces only: without a larger element limit the splitter would give up first.
        poll: { maxElementBytes: 32 * 1024 * 1024 },
      },
    );
    expect(failed.bytes).toBeLessThanOrEqual(8 * 1024 * 1024);
  });

  it('a feed over MAX_FEED_BYTES is refused', async () => {
    h = await createHarness({
      source: {
        kind: 'generated',
        bases: 500,
        eventsPerBase: 2,
        zonesPerEvent: 10,
        seed: 1,
        onlineRatio: 1,
      },
      fetcher: { maxFeedBytes: 100 * 1024 },
    });
    const report = await h.poll();
    expect(report.error?.code).toBe('feed_too_large');
    expect(h.store.count()).toBe(0);
  });

  it('headers slower than the headers timeout', async () => {
    await expectDocumentFault({ kind: 'delay', ms: 1_500 }, 'provider_timeout', {
      fetcher: { headersTimeoutMs: 300 },
    });
  });

  it('a body idle longer than the body timeout', async () => {
    await expectDocumentFault(
      { kind: 'drip', bytesPerTick: 100, intervalMs: 1_000 },
      'provider_timeout',
      {
        fetcher: { bodyIdleTimeoutMs: 300 },
      },
    );
  });

  it('a body still dripping at the poll deadline', async () => {
    // The deadline applies to the faulty poll only: worker start-up must not count against it.
    await expectDocumentFault(
      { kind: 'drip', bytesPerTick: 20, intervalMs: 50 },
      'provider_timeout',
      {},
      { deadlineMs: 400 },
    );
  });

  it('an unreachable provider', async () => {
    h = await createHarness({ fetcher: { url: 'http://127.0.0.1:1/api/events' } });
    const report = await h.poll();
    expect(report.error?.code).toBe('provider_unreachable');
    expect(h.store.state('feverup').consecutiveFailures).toBe(1);
  });

  it('a base element larger than MAX_ELEMENT_BYTES', async () => {
    h = await createHarness({
      source: {
        kind: 'generated',
        bases: 3,
        eventsPerBase: 50,
        zonesPerEvent: 50,
        seed: 1,
        onlineRatio: 1,
      },
      poll: { maxElementBytes: 64 * 1024, chunkBytes: 16 * 1024 },
    });
    const report = await h.poll();
    expect(report.error?.code).toBe('feed_malformed');
    expect(report.error?.message).toContain('MAX_ELEMENT_BYTES');
  });
});
