import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createFeedLoop } from '../src/feed-loop.js';
import { createHarness, type Harness } from './harness.js';

/**
 * Only the partner's faults may be blamed on the partner: each of our own failures is recorded
 * under its own code, so that /ready and the logs point at the right culprit.
 */
let h: Harness | undefined;
const cleanups: Array<() => void> = [];
afterEach(async () => {
  await h?.close();
  h = undefined;
  for (const cleanup of cleanups.splice(0)) cleanup();
});

const FIXTURE = { kind: 'fixtures', vocabulary: 'plan', response: 1 } as const;
/** ~3 MB of events once stored: more than the small disk below holds. */
const LARGE = {
  kind: 'generated',
  bases: 3_000,
  eventsPerBase: 3,
  zonesPerEvent: 5,
  seed: 4,
} as const;

/** A directory on a 1 MiB tmpfs of its own: a disk that fills up (root only, as CI runs). */
function smallDisk(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-small-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
  cleanups.push(() => {
    try {
      execFileSync('umount', [dir]);
      rmSync(dir, { recursive: true, force: true });
    } catch {
      execFileSync('umount', ['-l', dir]); // still busy: detached now, gone once released
    }
  });
  return dir;
}

describe('failure attribution', () => {
  it("records a bug in our own code as internal_error, never as the partner's fault", async () => {
    h = await createHarness({ source: FIXTURE });
    h.deps.onProgress = () => {
      throw new TypeError("Cannot read properties of undefined (reading 'events')");
    };
    const report = await h.poll();
    expect(report.error).toEqual({
      code: 'internal_error',
      message: "unexpected error: Cannot read properties of undefined (reading 'events')",
    });
    expect(h.store.state('feverup')).toMatchObject({
      lastErrorCode: 'internal_error',
      consecutiveFailures: 1,
    });
    expect(h.store.count()).toBe(0);
  });

  it('records a failed store write as store_write_failed, naming the system cause', async () => {
    h = await createHarness({ source: FIXTURE, dir: smallDisk() });
    expect((await h.poll()).outcome).toBe('applied');
    h.sim.setSource(LARGE);
    const report = await h.poll();
    expect(report.error?.code).toBe('store_write_failed');
    expect(report.error?.message).toMatch(/: (ENOSPC|EIO)/);
    expect(h.store.count()).toBe(4);
    expect(h.store.state('feverup')).toMatchObject({ lastErrorCode: 'store_write_failed' });
  });

  it('records a store that cannot be read as store_unavailable', async () => {
    h = await createHarness({ source: FIXTURE });
    await h.store.close();
    const report = await h.poll();
    expect(report.error?.code).toBe('store_unavailable');
    expect(report.error?.message).toMatch(/^cannot read the store at /);
  });

  it('records a parse worker dying of out-of-memory as parse_worker_failed, and recovers', async () => {
    h = await createHarness({
      source: FIXTURE,
      maxHeapMb: 32,
      threads: 1,
      poll: { maxElementBytes: 32 * 1024 * 1024 },
    });
    h.sim.setPlan({
      steps: [{ kind: 'huge_attribute', bytes: 12 * 1024 * 1024 }],
      afterwards: 'none',
    });
    const report = await h.poll();
    expect(report.error?.code).toBe('parse_worker_failed');
    expect(report.error?.message).toMatch(/memory/);
    expect(h.store.count()).toBe(0);
    // The pool replaced the worker: the next poll parses as usual.
    expect((await h.poll()).outcome).toBe('applied');
  });

  it('gives up after STORE_FAILURE_LIMIT consecutive store failures, so a supervisor restarts it', async () => {
    h = await createHarness({ source: FIXTURE, dir: smallDisk() });
    expect((await h.poll()).outcome).toBe('applied');
    h.sim.setSource(LARGE);
    const ingestor = createFeedLoop({
      ...h.deps,
      pollIntervalMs: 10,
      backoff: { baseMs: 1, maxMs: 10 },
      storeFailureLimit: 3,
    });
    await expect(ingestor.run()).rejects.toThrow(
      /^the store failed 3 polls in a row \(last: store_write_failed: /,
    );
    expect(h.sim.state().requests).toBe(4);
    await ingestor.stop();
  });

  it("does not count the partner's failures towards the store failure limit", async () => {
    h = await createHarness({ source: FIXTURE });
    h.sim.setPlan({ steps: [{ kind: 'status', status: 503 }], afterwards: 'repeat_last' });
    const ingestor = createFeedLoop({
      ...h.deps,
      pollIntervalMs: 10,
      backoff: { baseMs: 1, maxMs: 5 },
      storeFailureLimit: 2,
    });
    const running = ingestor.run();
    await new Promise((r) => setTimeout(r, 300));
    expect(h.sim.state().requests).toBeGreaterThan(3);
    await ingestor.stop();
    await running;
  });
});
