import { startApp, waitUntil } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_WINDOW, System } from './system.js';

/**
 * Readers never wait for the writer. The partner holds a large feed half sent, so the ingestor
 * stays in the middle of receiving it (its records staged, nothing applied) for as long as the
 * test likes; everything below happens inside that window, and only then is the feed let go and
 * applied.
 */
const system = new System();
const FIXTURE_EVENTS = 4;
const LARGE = {
  kind: 'generated' as const,
  bases: 2_000,
  eventsPerBase: 2,
  zonesPerEvent: 30,
  seed: 21,
  onlineRatio: 1,
};

beforeAll(async () => {
  await system.startSim({ kind: 'fixtures', vocabulary: 'plan', response: 1 });
  expect((await system.ingestOnce()).code).toBe(0);
  await system.control('source', LARGE);
  // Half of a ~6 MB feed, then nothing until released.
  await system.control('plan', {
    steps: [{ kind: 'hold', afterBytes: 3_000_000 }],
    afterwards: 'none',
  });
});
afterAll(async () => {
  await system.stopAll();
  await system.dispose();
});

const committed = () => system.ingestor!.logs().some((line) => line.msg === 'poll applied');

describe('while a feed is half received', () => {
  it('a new API answers, a re-forked worker answers, a second ingestor is refused; the commit comes last', async () => {
    // The partner stays silent while it holds the feed: no idle-body limit may end the poll.
    const ingestor = system.startIngestor({
      POLL_INTERVAL_MS: '600000',
      BODY_IDLE_TIMEOUT_MS: '600000',
    });
    await ingestor.waitForOutput(/"msg":"feed arriving: staging its records"/, 60_000);
    await waitUntil(async () => (await system.simState()).held === 1, { what: 'the held feed' });

    // A new API process starts, answers /ready and /search with the previous data.
    await system.startApi({ API_WORKERS: '2' });
    expect(await system.search(SEED_WINDOW)).toHaveLength(FIXTURE_EVENTS);
    expect((await system.ready()).events).toBe(FIXTURE_EVENTS);

    // A cluster worker killed now is re-forked, opens the store and serves it.
    const workers = () =>
      system
        .api!.logs()
        .filter((line) => line.msg === 'api listening')
        .map((line) => line.pid);
    await waitUntil(() => workers().length === 2, { what: 'two workers' });
    const [victim] = workers();
    process.kill(Number(victim), 'SIGKILL');
    await waitUntil(() => workers().length === 3, {
      what: 'a re-forked worker',
      timeoutMs: 10_000,
    });
    for (let i = 0; i < 10; i++) {
      expect(await system.search(SEED_WINDOW)).toHaveLength(FIXTURE_EVENTS);
    }

    // A second ingestor on the same store is refused at once, naming the holder.
    const second = startApp('ingestor', system.ingestorEnv({ LOG_LEVEL: 'silent' }), ['--once']);
    const started = Date.now();
    expect(await second.exited).toBe(2);
    expect(Date.now() - started).toBeLessThan(5_000);
    const lines = second.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `^ingestor cannot start: another ingestor holds the store at ${system.dataDir} \\(pid ${ingestor.child.pid} on `,
      ),
    );

    // Everything above happened with the feed half received: nothing was applied yet.
    expect(committed()).toBe(false);
    expect(await system.search(SEED_WINDOW)).toHaveLength(FIXTURE_EVENTS);

    await system.release();
    await waitUntil(committed, { what: 'the commit', timeoutMs: 60_000 });
    const after = await system.ready();
    expect(after.events).toBe(FIXTURE_EVENTS + LARGE.bases * LARGE.eventsPerBase);
  });
});
