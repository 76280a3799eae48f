import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { System } from './system.js';

/**
 * Wall clocks near daylight-saving changes, through ingest and /search: a time in the gap moves
 * forward by the gap's length, a repeated time takes the earlier offset (the `compatible` rule),
 * the same way east and west of UTC. The partner's wall clock is shown as sent.
 */
interface Case {
  start: string;
  end: string;
  /** The instants /search filters on. */
  startsAt: string;
  endsAt: string;
}

const ZONES: Record<string, Case[]> = {
  // 2021-03-28 02:00 CET → 03:00 CEST; 2021-10-31 03:00 CEST → 02:00 CET.
  'Europe/Madrid': [
    {
      start: '2021-03-28T02:30:00',
      end: '2021-03-28T04:00:00',
      startsAt: '2021-03-28T01:30:00Z',
      endsAt: '2021-03-28T02:00:00Z',
    },
    {
      start: '2021-10-31T02:30:00',
      end: '2021-10-31T02:45:00',
      startsAt: '2021-10-31T00:30:00Z',
      endsAt: '2021-10-31T00:45:00Z',
    },
    {
      start: '2021-07-01T20:00:00',
      end: '2021-07-01T22:00:00',
      startsAt: '2021-07-01T18:00:00Z',
      endsAt: '2021-07-01T20:00:00Z',
    },
  ],
  // 2021-03-14 02:00 EST → 03:00 EDT; 2021-11-07 02:00 EDT → 01:00 EST.
  'America/New_York': [
    {
      start: '2021-03-14T02:30:00',
      end: '2021-03-14T04:00:00',
      startsAt: '2021-03-14T07:30:00Z',
      endsAt: '2021-03-14T08:00:00Z',
    },
    {
      start: '2021-11-07T01:30:00',
      end: '2021-11-07T01:45:00',
      startsAt: '2021-11-07T05:30:00Z',
      endsAt: '2021-11-07T05:45:00Z',
    },
    {
      start: '2021-12-01T20:00:00',
      end: '2021-12-01T22:00:00',
      startsAt: '2021-12-02T01:00:00Z',
      endsAt: '2021-12-02T03:00:00Z',
    },
  ],
};

function feed(cases: Case[]): string {
  const plans = cases
    .map(
      (c, i) =>
        `<plan plan_start_date="${c.start}" plan_end_date="${c.end}" plan_id="${i + 1}" sell_from="2021-01-01T00:00:00" sell_to="2021-12-31T00:00:00" sold_out="false"><zone zone_id="1" capacity="10" price="20.00" name="A" numbered="false"/></plan>`,
    )
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?><planList version="1.0"><output><base_plan base_plan_id="7" sell_mode="online" title="Clock change">${plans}</base_plan></output></planList>`;
}

const systems: System[] = [];
afterAll(async () => {
  for (const system of systems) {
    await system.stopAll();
    await system.dispose();
  }
});

const seconds = (iso: string, delta: number) =>
  `${new Date(Date.parse(iso) + delta * 1000).toISOString().slice(0, 19)}Z`;

describe.each(Object.entries(ZONES))('PROVIDER_TIMEZONE=%s', (zone, cases) => {
  let system: System;
  beforeAll(async () => {
    system = new System();
    systems.push(system);
    await system.startSim({ kind: 'document', body: feed(cases) });
    await system.startApi({ API_WORKERS: '1' });
    const { code, summary } = await system.ingestOnce({ PROVIDER_TIMEZONE: zone });
    expect(code, summary).toBe(0);
  });

  it.each(cases)('$start–$end is $startsAt–$endsAt to /search, and shown as sent', async (c) => {
    const window = (from: string, to: string) => `?starts_at=${from}&ends_at=${to}`;
    const found = await system.search(window(c.startsAt, c.endsAt));
    expect(found.map((e) => `${e.start_date}T${e.start_time}`)).toEqual([c.start]);
    expect(found[0]).toMatchObject({ end_date: c.end.slice(0, 10), end_time: c.end.slice(11) });
    // One second later start, or one second earlier end, and it no longer fits.
    expect(await system.search(window(seconds(c.startsAt, 1), c.endsAt))).toEqual([]);
    expect(await system.search(window(c.startsAt, seconds(c.endsAt, -1)))).toEqual([]);
  });
});
