import { PARTNER_EXAMPLES } from '@tessera/fixtures';
import { createRandom } from '@tessera/simulator';
import { describe, expect, it } from 'vitest';
import { type Mapping, parseFeedFormat } from '../src/index.js';
import { readDocument } from './read-document.js';
import { type ReferenceMapping, referenceReading } from './reference-reading.js';

const SEED = Number(process.env.CORPUS_SEED ?? Date.now() % 1_000_000);
const DOCUMENTS = 40;
const ZONE = 'Europe/Madrid';

type Pick = <T>(items: readonly T[]) => T;

/** Values of every kind a partner sends, about one in ten of them wrong. */
function valueMaker(random: () => number) {
  const pick: Pick = (items) => items[Math.floor(random() * items.length)]!;
  const sometimes = (p: number) => random() < p;
  const instant = () =>
    Date.UTC(2026, 0, 1) +
    Math.floor(random() * 400) * 86_400_000 +
    Math.floor(random() * 86_400) * 1000;
  const iso = (ms: number) => new Date(ms).toISOString().slice(0, 19);
  return {
    pick,
    sometimes,
    id: (): unknown =>
      sometimes(0.9)
        ? pick([`e${Math.floor(random() * 1e6)}`, Math.floor(random() * 1e9), 'A-b_9'])
        : pick([null, 'has space', 'HUGE_ID', -4, 1.5, { id: 1 }, '', 'x'.repeat(65)]),
    title: (): unknown =>
      sometimes(0.93)
        ? pick(['Plain', 'Café \u00e9t\u00e9 ☃', 'Emoji 🎭', 'Quote "q" & <tag>', '  spaced  ', 42])
        : pick([null, ['a'], { t: 1 }, 'x'.repeat(1025)]),
    /** Start and end in one of the accepted forms, or a broken one. */
    times: (): [unknown, unknown, 's' | 'ms' | undefined] => {
      const start = instant();
      const end = start + pick([0, 3_600_000, 5_400_000, -60_000]);
      if (sometimes(0.06))
        return [
          pick(['tomorrow', '2026-02-30T20:00:00', '2026-05-01', '2026-05-01T25:00:00Z', 12]),
          iso(end),
          undefined,
        ];
      return pick([
        () => [`${iso(start)}Z`, `${iso(end)}Z`, undefined],
        () => [`${iso(start + 7_200_000)}+02:00`, `${iso(end - 3_600_000)}-0100`, undefined],
        () => [iso(start), iso(end), undefined],
        () => [`${iso(start)}.250Z`, `${iso(end)}.999Z`, undefined],
        () => [start / 1000 + pick([0, 0.5]), end / 1000, 's'],
        () => [String(start + pick([0, 999])), String(end), 'ms'],
      ] as Array<() => [unknown, unknown, 's' | 'ms' | undefined]>)();
    },
    price: (): unknown =>
      sometimes(0.95)
        ? pick([0, 5, 19.99, 1234.5, '20.00', '7', 1e3])
        : pick(['free', -1, '1e3', ' 5', 'HUGE_NUMBER', null]),
  };
}

const JSON_MAPPINGS: Array<[string, ReferenceMapping]> = [
  [
    'iso',
    {
      type: 'json',
      records: 'data.events[*]',
      fields: {
        event_id: 'id',
        base_id: 'show.id',
        title: 'name',
        online: { path: 'status', equals: 'onsale' },
        starts_at: 'when.start',
        ends_at: 'when.end',
        min_price: 'offers[*].min',
        max_price: 'offers[*].max',
      },
    },
  ],
  [
    'epoch',
    {
      type: 'json',
      records: 'events[*]',
      fields: {
        event_id: 'id',
        title: 'name',
        online: { path: 'live', equals: true },
        starts_at: { path: 'when.start', epoch: 's' },
        ends_at: { path: 'when.end', epoch: 's' },
        price: { path: 'offers[*].cents', scale: 0.01 },
      },
    },
  ],
];

function jsonDocument(random: () => number, m: ReferenceMapping): string {
  const v = valueMaker(random);
  const epoch = typeof m.fields.starts_at === 'object';
  const records = Array.from({ length: 1 + Math.floor(random() * 30) }, () => {
    let [start, end, unit] = v.times();
    if (epoch && unit !== 's')
      [start, end] = [v.pick([1767225600, '1767225600', 'x']), v.pick([1767229200, 1767225000])];
    const record: Record<string, unknown> = {
      id: v.id(),
      name: v.title(),
      show: v.sometimes(0.95) ? { id: v.id() } : null,
      status: v.pick(['onsale', 'onsale', 'onsale', 'offsale', 'ONSALE']),
      live: v.pick([true, true, true, false, 'true']),
      when: { start, end },
      offers: Array.from({ length: Math.floor(random() * 4) }, () => ({
        min: v.price(),
        max: v.price(),
        cents: v.pick([1999, 500, 0, -1, '250']),
      })),
      extra: v.sometimes(0.3) ? { nested: [1, { deep: [null, 'x'] }], big: 1e308 } : undefined,
    };
    if (v.sometimes(0.05)) delete record.when;
    return record;
  });
  const body = {
    meta: { count: records.length, note: 'caf\u00e9' },
    data: { events: records },
    events: records,
  };
  // Odd whitespace and unicode escapes: JSON.stringify with indentation, then some strings escaped.
  return JSON.stringify(body, null, v.pick([0, 1, '\t'])).replace(
    /é/g,
    v.sometimes(0.5) ? '\\u00e9' : 'é',
  );
}

/**
 * Reads DOCUMENTS seeded documents as a stream, in pieces of seeded sizes, and holds each reading
 * to the independent one: the same records, rejections (code, field, event) and offline count.
 */
function expectCorpusAsReference(
  m: ReferenceMapping,
  makeDocument: (random: () => number) => string,
): void {
  const random = createRandom(SEED);
  const mapping = parseFeedFormat(m) as Mapping;
  for (let n = 0; n < DOCUMENTS; n++) {
    const text = makeDocument(random);
    const expected = referenceReading(m, text, 'feed', ZONE);
    const pieces = [1 + Math.floor(random() * 97), 1 + Math.floor(random() * 5)];
    const got = readDocument(mapping, text, { provider: 'feed', timeZone: ZONE, pieces });
    const where = `document ${n} (CORPUS_SEED=${SEED})`;
    expect(got.records, where).toEqual(expected.records);
    expect(
      got.rejections.map((r) => [r.code, r.field, r.eventId]),
      where,
    ).toEqual(expected.rejected);
    expect(got.offline, where).toBe(expected.offline);
  }
}

describe(`mapped JSON read as a stream equals JSON.parse of the whole document (CORPUS_SEED=${SEED})`, () => {
  it.each(JSON_MAPPINGS)('%s mapping', (_, m) => {
    expectCorpusAsReference(m, (random) => jsonDocument(random, m));
  });
});

/** The xs partner's own mapping (packages/fixtures/partners/xs.mapping.json). */
const XML_MAPPING = PARTNER_EXAMPLES.xs.mapping as ReferenceMapping;

const escapeXml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');

function xmlDocument(random: () => number): string {
  const v = valueMaker(random);
  const ws = () => v.pick(['', ' ', '\n  ', '\t', '\r\n']);
  const text = (value: unknown) => {
    const s = escapeXml(String(value));
    return v.sometimes(0.2) && !s.includes(']]>')
      ? `<![CDATA[${String(value)}]]>`
      : `${ws()}${s}${ws()}`;
  };
  const attr = (name: string, value: unknown) =>
    value === null || value === undefined ? '' : ` ${name}="${escapeXml(String(value))}"`;
  const shows = Array.from({ length: 1 + Math.floor(random() * 6) }, () => {
    const title = v.title();
    const name =
      title === null
        ? ''
        : `<name>${text(Array.isArray(title) ? title.join('') : typeof title === 'object' ? '' : title)}</name>`;
    const performances = Array.from({ length: Math.floor(random() * 6) }, () => {
      const [start, end] = v.times();
      const prices = Array.from(
        { length: Math.floor(random() * 3) },
        () => `<price${attr('cents', v.pick([1999, 500, 0, -1, '250', 'x']))}/>`,
      ).join(ws());
      return (
        `<performance${attr('id', v.id())}${attr('status', v.pick(['on_sale', 'on_sale', 'sold', 'ON_SALE']))}>${ws()}` +
        `${v.sometimes(0.95) ? `<start>${text(start)}</start>` : ''}<!-- c --><end>${text(end)}</end>` +
        `${prices === '' ? '' : `<prices>${prices}</prices>`}${v.sometimes(0.2) ? '<extra a="1"><b>x</b></extra>' : ''}</performance>`
      );
    });
    // The show's name may come before or after its performances.
    const before = v.sometimes(0.5);
    return `<show${attr('code', v.id())}>${ws()}${before ? name : ''}${performances.join(ws())}${before ? '' : name}</show>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>${ws()}<!-- corpus -->${ws()}<catalogue>${shows.join(ws())}</catalogue>${ws()}`;
}

describe(`mapped XML read as a stream equals a whole-document sax read (CORPUS_SEED=${SEED})`, () => {
  it("the issue's xs mapping", () => {
    expectCorpusAsReference(XML_MAPPING, xmlDocument);
  });
});
