import { VOCABULARIES } from '@tessera/core';
import { expectedEvents, FIXTURE_RESPONSES, FIXTURE_VOCABULARIES } from '@tessera/fixtures';
import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness, idOf } from './harness.js';

/**
 * One contract, run for every vocabulary in core's table, through the whole ingest path:
 * fetch → split → parse in workers → store. A vocabulary added to the table without its
 * fixtures, or one the splitter or the reader does not know, fails here.
 */
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const byId = (summaries: Array<Record<string, unknown>>) =>
  new Map(summaries.map((s) => [s.id, s]));

describe.each(VOCABULARIES)('the $name vocabulary', (vocabulary) => {
  it('has the partner answers and the events they mean in @tessera/fixtures', () => {
    expect(FIXTURE_VOCABULARIES).toContain(vocabulary.name);
    for (const response of FIXTURE_RESPONSES) {
      expect(expectedEvents(vocabulary.name, response).length).toBeGreaterThan(0);
    }
  });

  it('keeps every event ever online with its latest values', async () => {
    h = await createHarness({ source: { kind: 'fixtures', vocabulary: vocabulary.name } });
    const seen = new Map<string, unknown>();
    for (const response of FIXTURE_RESPONSES) {
      const report = await h.poll();
      expect(report.outcome).toBe('applied');
      for (const e of expectedEvents(vocabulary.name, response))
        seen.set(idOf(e.baseId, e.eventId), e);
      const stored = byId(h.summaries());
      expect([...stored.keys()].sort()).toEqual([...seen.keys()].sort());
      for (const e of expectedEvents(vocabulary.name, response)) {
        expect(stored.get(idOf(e.baseId, e.eventId))).toMatchObject({
          title: e.title,
          start_date: e.start.slice(0, 10),
          start_time: e.start.slice(11),
          end_date: e.end.slice(0, 10),
          end_time: e.end.slice(11),
          min_price: e.minPrice,
          max_price: e.maxPrice,
        });
      }
      expect(stored.has(idOf('444', '1642'))).toBe(false);
    }
  });

  it('cuts a feed of many chunks at its base elements and ingests it exactly', async () => {
    h = await createHarness({
      source: {
        kind: 'generated',
        vocabulary: vocabulary.name,
        bases: 300,
        eventsPerBase: 3,
        zonesPerEvent: 20,
        seed: 7,
        onlineRatio: 0.8,
      },
    });
    const report = await h.poll();
    expect(report.outcome).toBe('applied');
    expect(report.bytes).toBeGreaterThan(10 * h.deps.chunkBytes);
    expect(report.events + report.offline).toBe(900);
    expect(report.events).toBeGreaterThan(600);
    expect(h.store.count()).toBe(report.events);
    expect(report.counts?.inserted).toBe(report.events);
    const starts = h.summaries().map((s) => `${s.start_date}T${s.start_time}`);
    expect([...starts].sort()).toEqual(starts);
  });

  it('refuses a document that is not well-formed in this vocabulary, writing nothing', async () => {
    h = await createHarness({
      source: { kind: 'fixtures', vocabulary: vocabulary.name, response: 1 },
      plan: { steps: [{ kind: 'malformed' }], afterwards: 'none' },
    });
    const report = await h.poll();
    expect(report.error?.code).toBe('feed_malformed');
    expect(h.store.count()).toBe(0);
  });
});
