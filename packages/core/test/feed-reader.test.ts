import {
  expectedEvents,
  expectedSummary,
  FIXTURE_RESPONSES,
  FIXTURE_VOCABULARIES,
  fixturePath,
} from '@tessera/fixtures';
import { describe, expect, it } from 'vitest';
import { EventSummarySchema } from '../src/event.js';
import { eventIdFor } from '../src/event-identity.js';
import { createTimeZone } from '../src/wall-clock.js';
import { readFeedFile, readFeedText } from './read-fixture.js';

const ctx = { provider: 'feverup', timeZone: createTimeZone('UTC') };

describe('createFeedReader on the partner fixtures', () => {
  for (const vocabulary of FIXTURE_VOCABULARIES) {
    for (const response of FIXTURE_RESPONSES) {
      it(`normalizes ${vocabulary}/response_${response}.xml to exactly the expected events`, () => {
        const reading = readFeedFile(ctx, fixturePath(vocabulary, response));
        const summaries = reading.records.map((r) =>
          EventSummarySchema.parse(JSON.parse(r.summary)),
        );
        const expected = expectedEvents(vocabulary, response).map((e) =>
          expectedSummary(e, eventIdFor('feverup', e.baseId, e.eventId)),
        );
        expect(summaries).toEqual(expected);
        expect(reading.rejections).toEqual([]);
        // Base 444 is offline from response 2 on: skipped, never validated or kept.
        expect(reading.offline).toBe(response === 1 ? 0 : 1);
        for (const r of reading.records) {
          expect(r.startsAt).toBe(
            Date.parse(`${JSON.parse(r.summary).start_date}T${JSON.parse(r.summary).start_time}Z`),
          );
          expect(r.endsAt).toBeGreaterThanOrEqual(r.startsAt);
        }
      });
    }
  }

  it('gives Los Morancos in response_3 its exact values', () => {
    const reading = readFeedFile(ctx, fixturePath('event', 3));
    const morancos = reading.records
      .map((r) => JSON.parse(r.summary))
      .find((s) => s.title === 'Los Morancos');
    expect(morancos).toEqual({
      id: eventIdFor('feverup', '1591', '1642'),
      title: 'Los Morancos',
      start_date: '2021-07-31',
      start_time: '20:00:00',
      end_date: '2021-07-31',
      end_time: '21:00:00',
      min_price: 65,
      max_price: 75,
    });
  });
});

const feed = (body: string) => `<eventList><output>${body}</output></eventList>`;
const online = (items: string, attrs = 'base_event_id="1" sell_mode="online" title="T"') =>
  `<base_event ${attrs}>${items}</base_event>`;
const item = (attrs: string, zones = '<zone price="10.00"/>') => `<event ${attrs}>${zones}</event>`;
const good =
  'event_id="7" event_start_date="2021-06-30T21:00:00" event_end_date="2021-06-30T22:00:00"';

describe('createFeedReader on flawed records', () => {
  it.each([
    [
      'a bad date',
      item(
        'event_id="7" event_start_date="2021-09-31T20:00:00" event_end_date="2021-10-01T20:00:00"',
      ),
      'invalid_datetime',
    ],
    [
      'a missing end',
      item('event_id="7" event_start_date="2021-06-30T21:00:00"'),
      'missing_attribute',
    ],
    [
      'a missing id',
      item('event_start_date="2021-06-30T21:00:00" event_end_date="2021-06-30T22:00:00"'),
      'missing_attribute',
    ],
    [
      'an empty id',
      item(
        `event_id="" event_start_date="2021-06-30T21:00:00" event_end_date="2021-06-30T22:00:00"`,
      ),
      'invalid_id',
    ],
    [
      'an end before its start',
      item(
        'event_id="7" event_start_date="2021-06-30T21:00:00" event_end_date="2021-06-30T20:59:59"',
      ),
      'end_before_start',
    ],
    ['a non-numeric price', item(good, '<zone price="free"/>'), 'invalid_price'],
    ['a negative price', item(good, '<zone price="10.00"/><zone price="-1.00"/>'), 'invalid_price'],
    ['a zone without price', item(good, '<zone name="x"/>'), 'invalid_price'],
  ])('rejects only the record with %s', (_label, bad, code) => {
    const reading = readFeedText(ctx, feed(online(bad + item(good.replace('"7"', '"8"')))));
    expect(reading.records).toHaveLength(1);
    expect(reading.rejections).toHaveLength(1);
    expect(reading.rejections[0]).toMatchObject({ code, baseId: '1' });
  });

  it('rejects the events of a base without id or title', () => {
    const reading = readFeedText(ctx, feed(online(item(good), 'sell_mode="online" title="T"')));
    expect(reading.records).toEqual([]);
    expect(reading.rejections[0]).toMatchObject({
      code: 'missing_attribute',
      field: 'base_event_id',
      eventId: '7',
    });
  });

  it('rejects the events of a base whose title is over-long', () => {
    const reading = readFeedText(
      ctx,
      feed(online(item(good), `base_event_id="1" sell_mode="online" title="${'x'.repeat(2000)}"`)),
    );
    expect(reading.records).toEqual([]);
    expect(reading.rejections[0]).toMatchObject({ code: 'attribute_too_long', field: 'title' });
  });

  it('keeps an event without zones with null prices', () => {
    const reading = readFeedText(ctx, feed(online(item(good, ''))));
    expect(JSON.parse(reading.records[0]?.summary ?? '{}')).toMatchObject({
      min_price: null,
      max_price: null,
    });
  });

  it('skips bases that are not online, whatever their mode', () => {
    const reading = readFeedText(
      ctx,
      feed(
        online(item(good), 'base_event_id="1" sell_mode="offline" title="T"') +
          online(item(good), 'base_event_id="2" sell_mode="ONLINE?" title="T"'),
      ),
    );
    expect(reading.records).toEqual([]);
    expect(reading.offline).toBe(2);
    expect(reading.bases).toBe(2);
  });

  it('lets an event equal in start and end through (zero length is not end before start)', () => {
    const reading = readFeedText(
      ctx,
      feed(
        online(
          item(
            'event_id="7" event_start_date="2021-06-30T21:00:00" event_end_date="2021-06-30T21:00:00"',
          ),
        ),
      ),
    );
    expect(reading.records).toHaveLength(1);
  });

  it('reads both vocabularies in one reader', () => {
    const plan =
      '<base_plan base_plan_id="9" sell_mode="online" title="P"><plan plan_id="1" plan_start_date="2021-06-30T21:00:00" plan_end_date="2021-06-30T22:00:00"/></base_plan>';
    const reading = readFeedText(ctx, feed(online(item(good)) + plan));
    expect(reading.records.map((r) => r.id)).toEqual([
      eventIdFor('feverup', '1', '7'),
      eventIdFor('feverup', '9', '1'),
    ]);
  });
});
