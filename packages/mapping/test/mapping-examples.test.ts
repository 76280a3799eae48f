import { eventIdFor } from '@tessera/core';
import { describe, expect, it } from 'vitest';
import { type Mapping, parseFeedFormat } from '../src/index.js';
import { readDocument } from './read-document.js';

// The two mappings of the partner-formats issue, exactly as written there.
const TM = parseFeedFormat({
  type: 'json',
  records: '_embedded.events[*]',
  fields: {
    event_id: 'id',
    base_id: 'series.id',
    title: 'name',
    online: { path: 'dates.status.code', equals: 'onsale' },
    starts_at: 'dates.start.dateTime',
    ends_at: 'dates.end.dateTime',
    min_price: 'priceRanges[*].min',
    max_price: 'priceRanges[*].max',
  },
}) as Mapping;

const XS = parseFeedFormat({
  type: 'xml',
  records: 'catalogue/show/performance',
  fields: {
    base_id: '../@code',
    event_id: '@id',
    title: '../name',
    online: { path: '@status', equals: 'on_sale' },
    starts_at: 'start',
    ends_at: 'end',
    price: { path: 'prices/price/@cents', scale: 0.01 },
  },
}) as Mapping;

const summary = (s: object) => JSON.stringify(s);

describe('a JSON partner (the issue\'s "tm" mapping)', () => {
  const doc = JSON.stringify({
    page: { size: 4, number: 0 },
    _embedded: {
      events: [
        {
          id: 'vv1',
          name: 'Rosalía — Motomami',
          series: { id: 'K8vZ9' },
          dates: {
            status: { code: 'onsale' },
            start: { dateTime: '2026-07-10T19:30:00Z' },
            end: { dateTime: '2026-07-10T22:00:00Z' },
          },
          priceRanges: [
            { min: 35.5, max: 90 },
            { min: 25, max: 60 },
          ],
        },
        {
          id: 'vv2',
          name: 'Not on sale',
          series: { id: 'K8vZ9' },
          dates: { status: { code: 'offsale' }, start: { dateTime: 'never checked' } },
        },
        {
          id: 'vv3',
          name: 'New Year',
          series: { id: 'NY' },
          dates: {
            status: { code: 'onsale' },
            start: { dateTime: '2026-12-31T23:00:00+01:00' },
            end: { dateTime: '2027-01-01T02:00:00+01:00' },
          },
        },
        {
          id: 'vv4',
          name: 'Bad start',
          series: { id: 'NY' },
          dates: {
            status: { code: 'onsale' },
            start: { dateTime: 'tomorrow' },
            end: { dateTime: '2027-01-01T02:00:00Z' },
          },
        },
      ],
    },
  });

  it('gives exactly the events written out by hand, whatever the pieces the text arrives in', () => {
    for (const pieces of [[1], [5, 2], [4096]]) {
      const reading = readDocument(TM, doc, { provider: 'tm', pieces });
      expect(reading.records).toEqual([
        {
          id: eventIdFor('tm', 'K8vZ9', 'vv1'),
          startsAt: Date.UTC(2026, 6, 10, 19, 30),
          endsAt: Date.UTC(2026, 6, 10, 22, 0),
          // Madrid is UTC+2 in July: the wall clock shown is the feed's zone's.
          summary: summary({
            id: eventIdFor('tm', 'K8vZ9', 'vv1'),
            title: 'Rosalía — Motomami',
            start_date: '2026-07-10',
            start_time: '21:30:00',
            end_date: '2026-07-11',
            end_time: '00:00:00',
            min_price: 25,
            max_price: 90,
          }),
        },
        {
          id: eventIdFor('tm', 'NY', 'vv3'),
          startsAt: Date.UTC(2026, 11, 31, 22, 0),
          endsAt: Date.UTC(2027, 0, 1, 1, 0),
          summary: summary({
            id: eventIdFor('tm', 'NY', 'vv3'),
            title: 'New Year',
            start_date: '2026-12-31',
            start_time: '23:00:00',
            end_date: '2027-01-01',
            end_time: '02:00:00',
            min_price: null,
            max_price: null,
          }),
        },
      ]);
      expect(reading.offline).toBe(1);
      expect(reading.bases).toBe(4);
      expect(reading.rejections).toEqual([
        {
          code: 'invalid_datetime',
          field: 'starts_at',
          message: 'starts_at: invalid datetime "tomorrow"',
          baseId: 'NY',
          eventId: 'vv4',
        },
      ]);
    }
  });
});

describe('an XML partner (the issue\'s "xs" mapping)', () => {
  const doc = `<?xml version="1.0" encoding="UTF-8"?>
<!-- shows of the week -->
<catalogue>
  <show code="S1">
    <performance id="P1" status="on_sale">
      <start>2026-05-01T20:00:00</start><end> 2026-05-01T22:00:00 </end>
      <prices><price cents="1999"/><price cents="4500"/></prices>
    </performance>
    <performance id="P2" status="cancelled"><start>x</start></performance>
    <name>Hamlet &amp; co</name>
  </show>
  <show code="S2">
    <name><![CDATA[Cats <the musical>]]></name>
    <performance id="P1" status="on_sale">
      <start>2026-05-02T18:00:00+02:00</start><end>2026-05-02T20:30:00+02:00</end>
    </performance>
    <performance id="P3" status="on_sale"><start>2026-05-03T18:00:00</start><end>2026-05-03T17:00:00</end></performance>
  </show>
</catalogue>`;

  it('gives exactly the events written out by hand; the same event id under two shows is two events', () => {
    const reading = readDocument(XS, doc, { provider: 'xs' });
    expect(reading.records).toEqual([
      {
        id: eventIdFor('xs', 'S1', 'P1'),
        startsAt: Date.UTC(2026, 4, 1, 18, 0),
        endsAt: Date.UTC(2026, 4, 1, 20, 0),
        summary: summary({
          id: eventIdFor('xs', 'S1', 'P1'),
          title: 'Hamlet & co',
          start_date: '2026-05-01',
          start_time: '20:00:00',
          end_date: '2026-05-01',
          end_time: '22:00:00',
          min_price: 19.99,
          max_price: 45,
        }),
      },
      {
        id: eventIdFor('xs', 'S2', 'P1'),
        startsAt: Date.UTC(2026, 4, 2, 16, 0),
        endsAt: Date.UTC(2026, 4, 2, 18, 30),
        summary: summary({
          id: eventIdFor('xs', 'S2', 'P1'),
          title: 'Cats <the musical>',
          start_date: '2026-05-02',
          start_time: '18:00:00',
          end_date: '2026-05-02',
          end_time: '20:30:00',
          min_price: null,
          max_price: null,
        }),
      },
    ]);
    expect(reading.offline).toBe(1);
    expect(reading.rejections.map((r) => [r.code, r.field, r.baseId, r.eventId])).toEqual([
      ['end_before_start', 'ends_at', 'S2', 'P3'],
    ]);
  });

  it('a document of another shape is a mismatch; a broken one is malformed', () => {
    expect(() => readDocument(XS, '<shows><show/></shows>')).toThrow(
      expect.objectContaining({ kind: 'mismatch' }),
    );
    expect(() => readDocument(XS, '<catalogue><show></catalogue>')).toThrow(
      expect.objectContaining({ kind: 'malformed' }),
    );
    expect(() => readDocument(TM, '{"_embedded":{"events":[{"id":1}')).toThrow(
      expect.objectContaining({ kind: 'malformed' }),
    );
    expect(() => readDocument(TM, '{"data":[{"id":"x"}]}')).toThrow(
      expect.objectContaining({ kind: 'mismatch' }),
    );
  });
});
