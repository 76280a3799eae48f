import { expectedEvents, type FixtureVocabulary } from '@tessera/fixtures';
import { SOUND_BASE_ID } from '@tessera/provider-sim';
import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness, idOf } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const byId = (summaries: Array<Record<string, unknown>>) =>
  new Map(summaries.map((s) => [s.id, s]));

describe('pollFeed over the partner fixtures', () => {
  for (const vocabulary of ['event', 'plan'] as FixtureVocabulary[]) {
    it(`keeps every event ever online with its latest values (${vocabulary})`, async () => {
      h = await createHarness({ source: { kind: 'fixtures', vocabulary } });
      const seen = new Map<string, unknown>();
      for (const response of [1, 2, 3] as const) {
        const report = await h.poll();
        expect(report.outcome).toBe('applied');
        for (const e of expectedEvents(vocabulary, response))
          seen.set(idOf(e.baseId, e.eventId), e);
        const stored = byId(h.summaries());
        expect([...stored.keys()].sort()).toEqual([...seen.keys()].sort());
        for (const e of expectedEvents(vocabulary, response)) {
          expect(stored.get(idOf(e.baseId, e.eventId))).toMatchObject({
            end_date: e.end.slice(0, 10),
            end_time: e.end.slice(11),
            min_price: e.minPrice,
            max_price: e.maxPrice,
          });
        }
        expect(stored.has(idOf('444', '1642'))).toBe(false);
      }
      // After 1, 2 and 3: 291 and 1591 with response 3's values, 322 as last seen in response 1.
      const finalTitles = h.titles();
      expect(finalTitles).toContain('Camela en concierto');
      expect(finalTitles).toContain('Pantomima Full');
      expect(finalTitles).toContain('Los Morancos');
      expect(finalTitles.filter((t) => t === 'Pantomima Full')).toHaveLength(
        vocabulary === 'plan' ? 2 : 1,
      );
      expect(byId(h.summaries()).get(idOf('291', '291'))).toMatchObject({ end_time: '21:30:00' });
    });
  }

  it('skips the write for a 304 and for a body identical to the last one', async () => {
    h = await createHarness({ source: { kind: 'fixtures', vocabulary: 'plan', response: 3 } });
    expect((await h.poll()).outcome).toBe('applied');
    const version = h.store.version();
    const lastTxn = h.store.lastTransactionId();
    const notModified = await h.poll();
    expect(notModified.outcome).toBe('not_modified');
    // Only the small state record (freshness) is committed: no event write, same version.
    expect(h.store.lastTransactionId()).toBe(lastTxn + 1);
    expect(h.store.version()).toBe(version);

    // The same bytes without validators (a provider that ignores If-None-Match).
    h.store.recordPoll({
      ok: true,
      at: 1,
      validators: { ...h.store.state().validators, url: null },
    });
    const before = h.store.lastTransactionId();
    const unchanged = await h.poll();
    expect(unchanged.outcome).toBe('unchanged');
    expect(h.store.lastTransactionId()).toBe(before + 1);
    expect(h.store.version()).toBe(version);
  });

  it('accepts gzip and identity bodies alike', async () => {
    h = await createHarness({
      source: { kind: 'fixtures', vocabulary: 'event', response: 1 },
      compress: true,
    });
    expect((await h.poll()).counts?.inserted).toBe(3);
  });
});

describe('pollFeed with generated feeds', () => {
  it('ingests a multi-chunk feed exactly, in both vocabularies', async () => {
    for (const vocabulary of ['event', 'plan'] as const) {
      h = await createHarness({
        source: {
          kind: 'generated',
          vocabulary,
          bases: 300,
          eventsPerBase: 3,
          zonesPerEvent: 20,
          seed: 7,
          onlineRatio: 0.8,
        },
      });
      const report = await h.poll();
      expect(report.outcome).toBe('applied');
      expect(report.bytes).toBeGreaterThan(10 * 64 * 1024);
      expect(report.events + report.offline).toBe(900);
      expect(h.store.count()).toBe(report.events);
      expect(report.counts?.inserted).toBe(report.events);
      const starts = h.summaries().map((s) => `${s.start_date}T${s.start_time}`);
      expect([...starts].sort()).toEqual(starts);
      await h.close();
      h = undefined;
    }
  });

  it('rejects flawed records one by one and keeps the rest', async () => {
    h = await createHarness({
      source: {
        kind: 'generated',
        bases: 200,
        eventsPerBase: 2,
        zonesPerEvent: 5,
        seed: 3,
        onlineRatio: 1,
        flawRatio: 0.2,
      },
    });
    const report = await h.poll();
    expect(report.outcome).toBe('applied');
    const rejected = Object.values(report.rejected).reduce((a, b) => a + (b ?? 0), 0);
    expect(rejected).toBeGreaterThan(20);
    expect(Object.keys(report.rejected).sort()).toEqual(
      ['end_before_start', 'invalid_datetime', 'invalid_price', 'missing_attribute'].sort(),
    );
    expect(report.events + rejected).toBe(400);
    expect(h.store.count()).toBe(report.events);
  });

  it('moves an event whose start changed and updates changed values', async () => {
    const source = {
      kind: 'generated' as const,
      vocabulary: 'plan' as const,
      bases: 50,
      eventsPerBase: 2,
      zonesPerEvent: 3,
      seed: 5,
      onlineRatio: 1,
    };
    h = await createHarness({ source });
    await h.poll();
    const count = h.store.count();
    h.sim.setSource({ ...source, shiftDays: 10 });
    const report = await h.poll();
    expect(report.counts?.moved).toBe(count);
    expect(h.store.count()).toBe(count);
  });
});

describe('pollFeed record faults', () => {
  it.each(['invalid_dates', 'missing_attributes'] as const)(
    '%s rejects only the flawed records',
    async (kind) => {
      h = await createHarness({ plan: { steps: [{ kind }], afterwards: 'none' } });
      const report = await h.poll();
      expect(report.outcome).toBe('applied');
      expect(report.counts?.inserted).toBe(1);
      expect(h.summaries().map((s) => s.id)).toEqual([idOf(SOUND_BASE_ID, '1')]);
      expect(Object.keys(report.rejected)).toEqual([
        kind === 'invalid_dates' ? 'invalid_datetime' : 'missing_attribute',
      ]);
      expect(Object.values(report.rejected)[0]).toBe(3);
    },
  );

  it('a huge attribute rejects its record only; memory stays bounded by MAX_ELEMENT_BYTES', async () => {
    h = await createHarness({
      plan: { steps: [{ kind: 'huge_attribute', bytes: 1024 * 1024 }], afterwards: 'none' },
    });
    const report = await h.poll();
    expect(report.outcome).toBe('applied');
    expect(h.summaries().map((s) => s.id)).toEqual([idOf(SOUND_BASE_ID, '1')]);
    expect(report.rejected).toEqual({ attribute_too_long: 1 });
  });
});
