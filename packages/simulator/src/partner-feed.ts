import { z } from 'zod';
import { createRandom } from './random.js';

/**
 * A feed in another partner's own format, in the shapes of the partner examples of
 * @tessera/fixtures (`json`: a REST API's `_embedded.events[*]`; `xml`: a catalogue of shows
 * and their performances), so that their mappings read it. The same bytes for the same options,
 * streamed in batches: a feed of gigabytes never sits in memory.
 */
export const PartnerFeedSchema = z.object({
  format: z.enum(['json', 'xml']),
  /** Records (JSON events, XML shows of three performances). */
  records: z.number().int().min(0).default(1000),
  /** Price entries per event. */
  prices: z.number().int().min(0).default(20),
  seed: z.number().int().default(1),
  /** Share of events not on sale. */
  offlineRatio: z.number().min(0).max(1).default(0.1),
  /** Share of events with a flaw (a bad date, a missing id, a bad price, an end before its start). */
  flawRatio: z.number().min(0).max(1).default(0),
});
export type PartnerFeed = z.infer<typeof PartnerFeedSchema>;

const BATCH_BYTES = 256 * 1024;
const EPOCH = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString().slice(0, 19);

export function* generatePartnerFeed(
  options: z.input<typeof PartnerFeedSchema>,
): Generator<Buffer> {
  const o = PartnerFeedSchema.parse(options);
  const json = o.format === 'json';
  const blocks = priceBlocks(o);
  let batch = json
    ? '{"page":{"size":0},"_embedded":{"events":['
    : '<?xml version="1.0" encoding="UTF-8"?>\n<catalogue>\n';
  for (let i = 0; i < o.records; i++) {
    const random = createRandom(o.seed * 1_000_003 + i);
    batch += json ? jsonEvent(o, i, random, blocks) : xmlShow(o, i, random, blocks);
    if (batch.length >= BATCH_BYTES) {
      yield Buffer.from(batch);
      batch = '';
    }
  }
  batch += json ? ']}}\n' : '</catalogue>\n';
  yield Buffer.from(batch);
}

interface Event {
  start: number;
  end: string;
  online: boolean;
  id: string | undefined;
  price: string;
}

function event(o: PartnerFeed, key: number, random: () => number): Event {
  const start = EPOCH + Math.floor(random() * 20_000) * HOUR;
  const flaw = random() < o.flawRatio ? Math.floor(random() * 4) : -1;
  return {
    start,
    end: flaw === 0 ? 'soon' : iso(start + (flaw === 3 ? -HOUR : 2 * HOUR)),
    online: random() >= o.offlineRatio,
    id: flaw === 1 ? undefined : `e${key}`,
    price: flaw === 2 ? 'free' : '',
  };
}

/**
 * Price lists come from a pool of blocks rather than built entry by entry, as generateFeed's
 * zones do: the generator must outrun the ingestor it feeds, on the same two cores (entry by
 * entry it cost three times the built-in feed's CPU per byte, taken from the ingestor measured).
 */
const PRICE_BLOCKS = 97;

function priceBlocks(o: PartnerFeed): string[] {
  if (o.format === 'json') return [jsonPrices(o.prices, '')];
  return Array.from({ length: PRICE_BLOCKS }, (_, b) =>
    xmlPrices(o.prices, '', createRandom(o.seed * 7_919 + b)),
  );
}

function jsonPrices(count: number, flaw: string): string {
  return Array.from(
    { length: count },
    (_, k) =>
      `{"type":"standard","currency":"EUR","min":${flaw === '' ? 10 + k : `"${flaw}"`},"max":${20 + k * 2}.5}`,
  ).join(',');
}

/** What the built-in feed's zones say (id, capacity, price, name, numbered), laid out as a
 * pretty-printed document is: the same data in this partner's own spelling. */
function xmlPrices(count: number, flaw: string, random: () => number): string {
  return Array.from(
    { length: count },
    (_, k) =>
      `\n          <price zone="${k}" capacity="${Math.floor(random() * 300)}" cents="${flaw === '' ? 1000 + k * 150 : flaw}" name="Zone ${k}" numbered="${k % 2 === 0}"/>`,
  ).join('');
}

function jsonEvent(o: PartnerFeed, i: number, random: () => number, blocks: string[]): string {
  const e = event(o, i, random);
  const prices = e.price === '' ? blocks[0]! : jsonPrices(o.prices, e.price);
  const id = e.id === undefined ? '' : `"id":"${e.id}",`;
  return `${i === 0 ? '' : ','}{${id}"name":"Show number ${i} \\u00e9t\\u00e9","type":"event","url":"https://partner.example/e/${i}","series":{"id":"s${i >> 2}"},"dates":{"status":{"code":"${e.online ? 'onsale' : 'offsale'}"},"start":{"dateTime":"${iso(e.start)}Z"},"end":{"dateTime":"${e.end}${e.end === 'soon' ? '' : 'Z'}"}},"priceRanges":[${prices}]}`;
}

function xmlShow(o: PartnerFeed, i: number, random: () => number, blocks: string[]): string {
  const performances = [0, 1, 2].map((p) => {
    const e = event(o, p, random);
    const block = blocks[Math.floor(random() * blocks.length)]!;
    const prices = e.price === '' ? block : xmlPrices(o.prices, e.price, random);
    const id = e.id === undefined ? '' : ` id="${e.id}"`;
    return `<performance${id} status="${e.online ? 'on_sale' : 'sold'}"><start>${iso(e.start)}</start><end>${e.end}</end><prices>${prices}</prices></performance>`;
  });
  // The show's name after its performances on odd shows: `../name` must still find it.
  const name = `<name>Show number ${i} &amp; co</name>`;
  return `<show code="s${i}">${i % 2 ? '' : name}${performances.join('')}${i % 2 ? name : ''}</show>\n`;
}

/** How many records make a feed of about this many bytes. */
export function partnerRecordsForBytes(
  targetBytes: number,
  options: z.input<typeof PartnerFeedSchema>,
): number {
  const sample = [...generatePartnerFeed({ ...options, records: 50 })].reduce(
    (n, b) => n + b.length,
    0,
  );
  return Math.max(1, Math.round((targetBytes * 50) / sample));
}
