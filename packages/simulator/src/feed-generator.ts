import {
  CURRENT_VOCABULARY,
  VOCABULARY_NAMES,
  type Vocabulary,
  vocabularyNamed,
} from '@tessera/core';
import { z } from 'zod';
import { createRandom } from './random.js';

export const GeneratedFeedSchema = z.object({
  vocabulary: z.enum(VOCABULARY_NAMES).default(CURRENT_VOCABULARY),
  bases: z.number().int().min(0).default(100),
  eventsPerBase: z.number().int().min(1).default(3),
  zonesPerEvent: z.number().int().min(0).default(10),
  seed: z.number().int().default(1),
  /** Share of base events that are online; the rest are offline and must never be kept. */
  onlineRatio: z.number().min(0).max(1).default(0.9),
  /** Share of events carrying a flaw (bad date, missing attribute, bad price, end before start). */
  flawRatio: z.number().min(0).max(1).default(0),
  /** Added to every start, in days, to make a later feed differ from an earlier one. */
  shiftDays: z.number().int().default(0),
});
export type GeneratedFeed = z.infer<typeof GeneratedFeedSchema>;

const DAY = 86_400_000;
const EPOCH = Date.parse('2021-01-01T00:00:00Z');
const BATCH_BYTES = 256 * 1024;

function wall(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
}

/**
 * Streams a feed of bases × events × zones, the same bytes for the same options, in batches of
 * about 256 KiB: a feed of gigabytes never sits in memory. Each base draws from its own seeded
 * generator, so any base can be produced without the ones before it.
 */
export function* generateFeed(options: Partial<GeneratedFeed> = {}): Generator<Buffer> {
  const o = GeneratedFeedSchema.parse(options);
  const v: Vocabulary = vocabularyNamed(o.vocabulary);
  const zones = zoneBlocks(o);
  const batch: Buffer[] = [
    Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<${v.root} version="1.0">\n   <output>\n`),
  ];
  let size = batch[0]!.length;
  const push = (part: Buffer): void => {
    batch.push(part);
    size += part.length;
  };
  for (let b = 1; b <= o.bases; b++) {
    base(v, o, b, zones, push);
    if (size >= BATCH_BYTES) {
      yield Buffer.concat(batch, size);
      batch.length = 0;
      size = 0;
    }
  }
  push(Buffer.from(`   </output>\n</${v.root}>\n`));
  yield Buffer.concat(batch, size);
}

function base(
  v: Vocabulary,
  o: GeneratedFeed,
  b: number,
  zones: Buffer[],
  push: (part: Buffer) => void,
): void {
  const random = createRandom(o.seed * 1_000_003 + b);
  const online = random() < o.onlineRatio;
  let s = `      <${v.base} ${v.baseId}="${b}" sell_mode="${online ? 'online' : 'offline'}" title="${escapeXml(`Generated show ${b} (${o.seed})`)}">\n`;
  for (let e = 1; e <= o.eventsPerBase; e++) {
    const eventId = b * 1000 + e;
    const start =
      EPOCH +
      (o.shiftDays + Math.floor(random() * 1095)) * DAY +
      Math.floor(random() * 24) * 3_600_000;
    const end = start + (1 + Math.floor(random() * 4)) * 1_800_000;
    const flaw = random() < o.flawRatio ? Math.floor(random() * 4) : -1;
    const startText =
      flaw === 0 ? `${wall(start).slice(0, 5)}02-30${wall(start).slice(10)}` : wall(start);
    const endText = flaw === 3 ? wall(start - 3_600_000) : wall(end);
    const idAttr = flaw === 1 ? '' : ` ${v.itemId}="${eventId}"`;
    s += `         <${v.item} ${v.itemStart}="${startText}" ${v.itemEnd}="${endText}"${idAttr} sell_from="${wall(start - 30 * DAY)}" sell_to="${wall(start - 600_000)}" sold_out="false">\n`;
    push(Buffer.from(s));
    const block = zones[Math.floor(random() * zones.length)]!;
    push(
      flaw === 2 ? Buffer.from(block.toString().replace(/price="[^"]*"/, 'price="n/a"')) : block,
    );
    s = `         </${v.item}>\n`;
  }
  push(Buffer.from(`${s}      </${v.base}>\n`));
}

/**
 * Zone lists are drawn from a pool of distinct blocks rather than built zone by zone: the
 * generator must outrun the ingestor it feeds, on the same two cores.
 */
const ZONE_BLOCKS = 97;

function zoneBlocks(o: GeneratedFeed): Buffer[] {
  const blocks: Buffer[] = [];
  for (let k = 0; k < ZONE_BLOCKS; k++) {
    const random = createRandom(o.seed * 7_919 + k);
    let s = '';
    for (let z = 1; z <= o.zonesPerEvent; z++) {
      const price = `${10 + Math.floor(random() * 90)}.${Math.floor(random() * 100)
        .toString()
        .padStart(2, '0')}`;
      s += `            <zone zone_id="${z}" capacity="${Math.floor(random() * 300)}" price="${price}" name="Zone ${z}" numbered="${z % 2 === 0}" />\n`;
    }
    blocks.push(Buffer.from(s));
  }
  return blocks;
}

/** Roughly the bytes one base takes with these options, to size a feed for a target. */
export function basesForBytes(targetBytes: number, options: Partial<GeneratedFeed> = {}): number {
  const sample = [...generateFeed({ ...options, bases: 20 })].reduce((n, b) => n + b.length, 0);
  return Math.max(1, Math.round((targetBytes * 20) / sample));
}
