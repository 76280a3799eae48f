import { eventIdFor, VOCABULARY_NAMES } from '@tessera/core';
import { expectedEvents, expectedSummary } from '@tessera/fixtures';
import { afterEach, describe, expect, it } from 'vitest';
import { SEED_WINDOW, type Summary, System } from './system.js';

let system: System | undefined;
afterEach(async () => {
  await system?.stopAll();
  await system?.dispose();
  system = undefined;
});

const id = (baseId: string, eventId: string) => eventIdFor('feverup', baseId, eventId);

describe.each(VOCABULARY_NAMES)('the seed example (%s vocabulary)', (vocabulary) => {
  it('after responses 1, 2 and 3 the window holds 291, 322 and 1591 with their latest values', async () => {
    system = new System();
    await system.startSim({ kind: 'fixtures', vocabulary });
    await system.startApi();

    const seen = new Map<string, ReturnType<typeof expectedEvents>[number]>();
    for (const response of [1, 2, 3] as const) {
      const { code, summary } = await system.ingestOnce();
      expect(code, summary).toBe(0);
      for (const e of expectedEvents(vocabulary, response)) seen.set(id(e.baseId, e.eventId), e);

      const events = await system.search(SEED_WINDOW);
      const byId = new Map(events.map((e) => [e.id, e]));
      expect([...byId.keys()].sort()).toEqual([...seen.keys()].sort());
      for (const [eventId, e] of seen) {
        expect(byId.get(eventId)).toEqual(expectedSummary(e, eventId) satisfies Summary);
      }
      const starts = events.map((e) => `${e.start_date}T${e.start_time}`);
      expect([...starts].sort()).toEqual(starts);
    }

    const final = await system.search(SEED_WINDOW);
    const titles = final.map((e) => e.title);
    // 322 left the feed after response 1 and is still served; 444 was never online.
    expect(titles).toEqual(
      vocabulary === 'plan'
        ? ['Pantomima Full', 'Pantomima Full', 'Camela en concierto', 'Los Morancos']
        : ['Pantomima Full', 'Camela en concierto', 'Los Morancos'],
    );
    expect(final.some((e) => e.id === id('444', '1642'))).toBe(false);
    expect(final.find((e) => e.id === id('291', '291'))?.end_time).toBe('21:30:00');
    expect(final.find((e) => e.id === id('1591', '1642'))).toMatchObject({
      min_price: 65,
      max_price: 75,
    });
  });
});
