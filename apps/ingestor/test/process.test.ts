import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProviderSim, generateFeed, type ProviderSim } from '@tessera/simulator';
import { openStoreReader } from '@tessera/store';
import {
  type RunningProcess,
  readWholeDocument,
  type StartOptions,
  startApp,
  waitUntil,
} from '@tessera/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PollReport } from '../src/feed-poll.js';

let dir: string;
let sim: ProviderSim;
let url: string;
const children: RunningProcess[] = [];

beforeEach(async () => {
  // A dot in the directory's name, as `mktemp -d` gives: still a directory to lmdb.
  dir = mkdtempSync(join(tmpdir(), 'tmp.'));
  sim = createProviderSim({ source: { kind: 'fixtures', vocabulary: 'plan', response: 1 } });
  url = await sim.listen();
});
afterEach(async () => {
  for (const child of children) child.signal('SIGKILL');
  children.length = 0;
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

function start(
  args: string[],
  env: Record<string, string> = {},
  options: Omit<StartOptions, 'env'> = {},
): RunningProcess {
  const child = startApp(
    'ingestor',
    { DATA_DIR: dir, PROVIDER_URL: url, INGEST_NICE: '0', ...env },
    args,
    options,
  );
  children.push(child);
  return child;
}

describe('ingestor process', () => {
  it('--once polls, prints a one-line summary and exits 0', async () => {
    const run = start(['--once'], { LOG_LEVEL: 'silent' });
    expect(await run.exited).toBe(0);
    const lines = run.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^applied: .* MiB, events inserted=4 updated=0 moved=0 unchanged=0, rejected 0, offline 0, \d+ ms, peak RSS \d+ MiB$/,
    );
  });

  it('--once --json prints the poll report as JSON', async () => {
    const run = start(['--once', '--json'], { LOG_LEVEL: 'silent' });
    expect(await run.exited).toBe(0);
    const report = JSON.parse(run.output()) as PollReport & { peakRssMb: number };
    expect(report).toMatchObject({
      outcome: 'applied',
      events: 4,
      counts: { inserted: 4, updated: 0, moved: 0, unchanged: 0 },
      error: null,
    });
    expect(report.peakRssMb).toBeGreaterThan(10);
  });

  it('stops at boot with one line naming the system cause when DATA_DIR is read-only', async () => {
    // A read-only mount of the directory, in a mount namespace of the process's own.
    const run = start(
      ['--once'],
      {},
      {
        wrapper: [
          'unshare',
          '--mount',
          'sh',
          '-c',
          'mount --bind -o ro "$DATA_DIR" "$DATA_DIR" && exec "$@"',
          'sh',
        ],
      },
    );
    expect(await run.exited).toBe(2);
    const lines = run.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^ingestor cannot start: cannot open the store at ${dir}: (EROFS|EACCES)`),
    );
  });

  it('--once exits non-zero when the poll fails', async () => {
    sim.setPlan({ steps: [{ kind: 'status', status: 503 }], afterwards: 'none' });
    const run = start(['--once'], { LOG_LEVEL: 'silent' });
    expect(await run.exited).toBe(1);
    expect(run.output()).toMatch(/^failed: .*error=provider_status/);
  });

  it('stops at boot with one readable line naming a bad setting', async () => {
    const run = start(['--once'], { POLL_INTERVAL_MS: 'soon' });
    expect(await run.exited).toBe(2);
    expect(run.output().trim()).toMatch(/^invalid setting POLL_INTERVAL_MS: .*"soon"/);
    expect(run.output().trim().split('\n')).toHaveLength(1);
  });

  it('keeps retrying an unreachable provider, logging each failure, and exits 0 on SIGTERM', async () => {
    const run = start([], {
      PROVIDER_URL: 'http://127.0.0.1:1/api/events',
      BACKOFF_BASE_MS: '50',
      BACKOFF_MAX_MS: '100',
    });
    await waitUntil(() => (run.output().match(/"outcome":"failed"/g) ?? []).length >= 3);
    for (const line of run.output().trim().split('\n'))
      expect(() => JSON.parse(line)).not.toThrow();
    run.signal('SIGTERM');
    expect(await run.exited, run.output()).toBe(0);
  });

  it('on SIGTERM during a large ingest, aborts the open transaction cleanly and exits 0', async () => {
    const feed = { bases: 4000, eventsPerBase: 2, zonesPerEvent: 20, seed: 3 };
    sim.setSource({ kind: 'generated', ...feed });
    // The whole feed's events, read by plain sax over the whole document: a tenth of its bases
    // are offline, so fewer than bases × events.
    const whole = readWholeDocument(Buffer.concat([...generateFeed(feed)]).toString('utf8'), {
      provider: 'feverup',
      timeZone: 'UTC',
    });
    if (whole === 'refused') throw new Error('the generated feed is not well-formed');
    const run = start([], { LOG_LEVEL: 'silent' });
    await waitUntil(() => sim.state().requests >= 1);
    await new Promise((r) => setTimeout(r, 300));
    run.signal('SIGTERM');
    expect(await run.exited, run.output()).toBe(0);
    const store = openStoreReader({ path: dir });
    // Either the whole feed committed before the signal, or nothing of it did; a poll cut short
    // by shutdown is not recorded as a provider failure.
    expect([0, whole.records.length]).toContain(store.count());
    expect(store.state('feverup'), JSON.stringify(store.state('feverup'))).toMatchObject({
      consecutiveFailures: 0,
    });
    await store.close();
  });

  it('survives kill -9 at random moments of a large ingest: the store opens with every committed feed', async () => {
    expect(await start(['--once'], { LOG_LEVEL: 'silent' }).exited).toBe(0);
    const large = {
      kind: 'generated' as const,
      vocabulary: 'plan' as const,
      bases: 4000,
      eventsPerBase: 2,
      zonesPerEvent: 20,
      seed: 9,
      onlineRatio: 1,
    };
    sim.setSource(large);
    for (let round = 0; round < 4; round++) {
      const run = start(['--once'], { LOG_LEVEL: 'silent' });
      await new Promise((r) => setTimeout(r, 150 + Math.random() * 1_500));
      run.signal('SIGKILL');
      await run.exited;
      const store = openStoreReader({ path: dir });
      const count = store.count();
      // Atomic: the fixture feed alone, or the fixture feed and the whole large feed.
      expect([4, 4 + 8000]).toContain(count);
      expect(store.state('feverup').lastCounts).not.toBeNull();
      await store.close();
    }
    const finish = start(['--once'], { LOG_LEVEL: 'silent' });
    expect(await finish.exited).toBe(0);
    const store = openStoreReader({ path: dir });
    expect(store.count()).toBe(8004);
    await store.close();
  });
});
