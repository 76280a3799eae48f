import type { Fault } from '@tessera/simulator';
import { waitUntil } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { System } from './system.js';

const system = new System();

beforeAll(async () => {
  await system.startSim({ kind: 'fixtures', vocabulary: 'plan', response: 2 });
  await system.startApi();
  // Under MAX_ELEMENT_BYTES (16 MiB), so that a gzip bomb of spaces meets the size cap first.
  system.startIngestor({ MAX_FEED_BYTES: String(8 * 1024 * 1024) });
  await waitUntil(async () => (await system.ready()).events === 2, { what: 'the first feed' });
});

afterAll(async () => {
  await system.stopAll();
  await system.dispose();
});

const camelaEnd = async () =>
  (await system.search()).find((e) => e.title === 'Camela en concierto')?.end_time;

// Responses 2 and 3 differ in Camela's end time: each good poll after a fault is visible.
let next: 2 | 3 = 3;

describe('each fault mode against the running ingestor', () => {
  it.each([
    [{ kind: 'status', status: 500 }, 'provider_status'],
    [{ kind: 'status', status: 502 }, 'provider_status'],
    [{ kind: 'status', status: 503 }, 'provider_status'],
    [{ kind: 'status', status: 429, retryAfterSeconds: 0 }, 'provider_rate_limited'],
    [{ kind: 'html200' }, 'feed_not_xml'],
    [{ kind: 'reset', afterBytes: 600 }, 'feed_interrupted'],
    [{ kind: 'truncate', afterBytes: 600 }, 'feed_interrupted'],
    [{ kind: 'malformed' }, 'feed_malformed'],
    [{ kind: 'wrong_root' }, 'feed_malformed'],
    [{ kind: 'deep_nesting', depth: 2_000 }, 'feed_malformed'],
    [{ kind: 'entity_bomb' }, 'feed_malformed'],
    [{ kind: 'gzip_bomb', inflatedBytes: 4 * 1024 ** 3 }, 'feed_too_large'],
    [{ kind: 'delay', ms: 2_500 }, 'provider_timeout'],
    [{ kind: 'drip', bytesPerTick: 8, intervalMs: 1_500 }, 'provider_timeout'],
  ] as Array<[Fault, string]>)(
    '%j: the ingestor stays up, the store is untouched, the next good poll applies',
    async (fault, code) => {
      const before = { events: await system.search(), end: await camelaEnd() };
      const versionBefore = (await system.ready()).version;
      await system.control('source', { kind: 'fixtures', vocabulary: 'plan', response: next });
      // The fault repeats until seen: a single failure is cleared by the next poll within ms.
      await system.control('plan', { steps: [fault], afterwards: 'repeat_last' });

      let seen: string | null = null;
      const failed = await waitUntil(
        async () => {
          const ready = await system.ready();
          seen = ready.last_error_code ?? seen;
          return ready.last_error_code === code ? ready : undefined;
        },
        { what: `the ${code} failure`, timeoutMs: 20_000 },
      ).catch((error: Error) => {
        throw new Error(`${error.message}; last error seen: ${seen}`);
      });
      expect(failed.consecutive_failures).toBeGreaterThanOrEqual(1);
      expect(failed.version).toBe(versionBefore);
      expect(await system.search()).toEqual(before.events);
      expect(system.ingestor?.child.exitCode).toBeNull();
      await system.control('plan', { steps: [], afterwards: 'none' });

      const wanted = next === 3 ? '21:30:00' : '22:00:00';
      await waitUntil(async () => (await camelaEnd()) === wanted, {
        what: 'the next good poll',
      }).catch((error: Error) => {
        const recent = system.ingestor
          ?.logs()
          .slice(-6)
          .map((l) => JSON.stringify(l))
          .join('\n');
        throw new Error(`${error.message}; last ingestor logs:\n${recent}`);
      });
      expect((await system.ready()).consecutive_failures).toBe(0);
      next = next === 3 ? 2 : 3;
    },
  );

  it('never fetched the external entity', async () => {
    expect((await system.simState()).externalEntityHits).toBe(0);
  });

  it('rejects flawed records and keeps the sound one', async () => {
    for (const kind of ['invalid_dates', 'missing_attributes'] as const) {
      await system.control('plan', { steps: [{ kind }], afterwards: 'repeat_last' });
      await waitUntil(async () => (await system.search()).some((e) => e.title === 'Sound show'), {
        what: kind,
      });
    }
    await system.control('plan', { steps: [], afterwards: 'none' });
    const titles = (await system.search()).map((e) => e.title);
    expect(titles.filter((t) => t === 'Sound show')).toHaveLength(1);
    expect(titles).not.toContain('Fault show');
  });
});
