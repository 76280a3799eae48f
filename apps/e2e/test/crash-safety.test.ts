import { openStoreReader } from '@tessera/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { System } from './system.js';
import { ReferenceNode } from './truth/reference-node.js';

const system = new System();
/** One single node applying every round's feed in order, uninterrupted: the truth. */
const reference = new ReferenceNode();
const large = {
  kind: 'generated' as const,
  vocabulary: 'plan' as const,
  bases: 3_000,
  eventsPerBase: 2,
  zonesPerEvent: 40,
  onlineRatio: 1,
};
const FIXTURE_EVENTS = 4;
const GENERATED_EVENTS = 6_000;

beforeAll(async () => {
  await system.startSim({ kind: 'fixtures', vocabulary: 'plan', response: 1 });
});
afterAll(async () => {
  await system.stopAll();
  await system.dispose();
  await reference.stop();
});

async function digestOf(path: string): Promise<string | null> {
  const store = openStoreReader({ path });
  try {
    return store.digest();
  } finally {
    await store.close();
  }
}

/** Seeds appearing in the stored generated titles ("Generated show 12 (7)"). */
async function storedSeeds(): Promise<{ count: number; seeds: Set<number> }> {
  const store = openStoreReader({ path: system.dataDir });
  try {
    const seeds = new Set<number>();
    for (const bytes of store.scan({ startsAt: null, endsAt: null })) {
      const match = /Generated show \d+ \((\d+)\)/.exec(bytes.toString('utf8'));
      if (match) seeds.add(Number(match[1]));
    }
    return { count: store.count(), seeds };
  } finally {
    await store.close();
  }
}

describe('crash safety', () => {
  it('kill -9 at 20 random moments of large ingests: every committed feed intact, none half-applied', async () => {
    expect((await system.ingestOnce()).code).toBe(0);
    expect((await reference.ingest(system.feedUrl)).ok).toBe(true);
    let committedSeed: number | undefined;
    for (let seed = 1; seed <= 20; seed++) {
      // Each round's feed rewrites every generated event (new seed, new title and dates).
      await system.control('source', { ...large, seed, shiftDays: seed });
      const run = system.startIngestor({ LOG_LEVEL: 'silent' });
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 1_500));
      const before = await digestOf(system.dataDir);
      run.signal('SIGKILL');
      await run.exited;
      // The truth for this round: the same feeds, in order, applied by a node nobody killed.
      expect((await reference.ingest(system.feedUrl)).ok).toBe(true);
      const truth = await digestOf(reference.dataDir);
      const after = await digestOf(system.dataDir);
      // Killed, the store holds what it held, or exactly what the reference holds now.
      expect([before, truth], `round ${seed}`).toContain(after);

      const { count, seeds } = await storedSeeds();
      // The store opens, the fixture feed is intact, and the generated events come from exactly
      // one feed: the one committed before, or this round's, never a mix.
      expect(count).toBe(
        committedSeed === undefined && seeds.size === 0
          ? FIXTURE_EVENTS
          : FIXTURE_EVENTS + GENERATED_EVENTS,
      );
      expect(seeds.size).toBeLessThanOrEqual(1);
      const [stored] = [...seeds];
      if (stored !== undefined) expect([committedSeed, seed]).toContain(stored);
      committedSeed = stored ?? committedSeed;
    }
    const { code, summary } = await system.ingestOnce();
    expect(code, summary).toBe(0);
    expect(await digestOf(system.dataDir)).toBe(await digestOf(reference.dataDir));
    expect(await storedSeeds()).toEqual({
      count: FIXTURE_EVENTS + GENERATED_EVENTS,
      seeds: new Set([20]),
    });
  });
});
