import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VOCABULARIES, type Vocabulary } from '@tessera/core';
import { createRandom } from '@tessera/simulator';
import { openStoreWriter } from '@tessera/store';
import { readWholeDocument } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollFeed } from '../src/feed-poll.js';
import { storeSink } from '../src/feed-sink.js';
import { createHarness, type Harness } from './harness.js';

/**
 * XML conformance: seeded, well-formed (and a few broken) feeds full of what a byte-level
 * splitter can trip on — comments, CDATA sections and processing instructions that spell base,
 * event and zone tags, entities and character references, both quote styles, odd whitespace,
 * shuffled attributes — run through the whole ingest path (HTTP, splitter, condenser, workers,
 * store) and through plain sax over the whole document. Both must find the same records and
 * the same rejections, or both refuse the document. `XML_CASES` sets how many.
 */
const CASES = Number(process.env.XML_CASES ?? 300);
const FIRST_SEED = Number(process.env.XML_SEED ?? 1);

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T =>
  items[Math.floor(random() * items.length)]!;

/** Text that looks like markup, for inside opaque stretches. */
function decoy(random: Random, v: Vocabulary): string {
  return pick(random, [
    `<${v.base} ${v.baseId}="999" sell_mode="online" title="ghost">`,
    `</${v.base}>`,
    `<${v.item} ${v.itemId}="1">`,
    `</${v.item}>`,
    '<zone zone_id="1" price="1.00"/><zone zone_id="2" price="999.00"/><zone zone_id="3" price="5.00"/>',
    `</${v.root}>`,
    'plain words',
  ]);
}

function opaque(random: Random, v: Vocabulary, inElement: boolean): string {
  const kinds = inElement ? ['comment', 'cdata', 'pi'] : ['comment', 'pi'];
  const kind = pick(random, kinds);
  const body = decoy(random, v);
  if (kind === 'comment') return `<!-- ${body.replace(/--/g, '- -')} -->`;
  if (kind === 'cdata') return `<![CDATA[ ${body} ]]>`;
  return `<?tessera ${body} ?>`;
}

function ws(random: Random): string {
  return pick(random, ['', ' ', '\n', '\t ', '  \r\n  ']);
}

/** Attributes in a random order, quote style and spacing; values escaped for their quote. */
function attributes(random: Random, pairs: Array<[string, string]>): string {
  const shuffled = [...pairs].sort(() => random() - 0.5);
  return shuffled
    .map(([name, value]) => {
      const quote = random() < 0.5 ? '"' : "'";
      const escaped = value
        .replace(/&/g, '&amp;')
        .replace(/</g, '&lt;')
        .replace(quote === '"' ? /"/g : /'/g, quote === '"' ? '&quot;' : '&apos;');
      return ` ${name}${ws(random)}=${ws(random)}${quote}${escaped}${quote}`;
    })
    .join(ws(random));
}

const TITLES = ['Ñandú & "friends"', "Rock'n'roll <live>", 'Café con leche', 'Plain', 'Ópera'];

/** Also character references, decoded by XML to the same text. */
function titleAttribute(random: Random): [string, string] {
  return ['title', pick(random, TITLES)];
}

function date(random: Random, broken: boolean): string {
  if (broken && random() < 0.3) return '2021-09-31T20:00:00';
  const day = 1 + Math.floor(random() * 28);
  return `2021-0${1 + Math.floor(random() * 9)}-${String(day).padStart(2, '0')}T${String(10 + Math.floor(random() * 10))}:00:00`;
}

function makeDocument(seed: number): { vocabulary: Vocabulary; body: string } {
  const random = createRandom(seed);
  const v = pick(random, VOCABULARIES);
  const broken = random() < 0.1;
  const sprinkle = (inElement: boolean) =>
    (random() < 0.35 ? opaque(random, v, inElement) : '') + ws(random);
  let s = `<?xml version="1.0" encoding="UTF-8"?>${ws(random)}${sprinkle(false)}<${v.root} version="1.0">${sprinkle(true)}<output>${sprinkle(true)}`;
  const bases = 1 + Math.floor(random() * 6);
  for (let b = 1; b <= bases; b++) {
    const baseId = String(1 + Math.floor(random() * 4));
    s += `<${v.base}${attributes(random, [[v.baseId, baseId], ['sell_mode', random() < 0.8 ? 'online' : 'offline'], titleAttribute(random)])}>${sprinkle(true)}`;
    const items = 1 + Math.floor(random() * 3);
    for (let e = 1; e <= items; e++) {
      const start = date(random, broken);
      const item: Array<[string, string]> = [
        [v.itemId, String(1 + Math.floor(random() * 5))],
        [v.itemStart, start],
        [v.itemEnd, start.replace('T1', 'T2')],
        ['sell_from', '2020-01-01T00:00:00'],
        ['sell_to', '2021-01-01T00:00:00'],
        ['sold_out', 'false'],
      ];
      s += `<${v.item}${attributes(random, item)}>${sprinkle(true)}`;
      const zones = Math.floor(random() * 7);
      for (let z = 1; z <= zones; z++) {
        const price = `${1 + Math.floor(random() * 200)}.${random() < 0.5 ? '00' : '50'}`;
        s += `<zone${attributes(random, [
          ['zone_id', String(z)],
          ['capacity', '10'],
          ['price', price],
          ['name', `Zone ${z}`],
          ['numbered', 'true'],
        ])}${ws(random)}/>${random() < 0.2 ? sprinkle(true) : ws(random)}`;
      }
      s += `</${v.item}>${sprinkle(true)}`;
    }
    s += `</${v.base}>${sprinkle(true)}`;
  }
  s += `</output>${sprinkle(true)}</${v.root}>${ws(random)}${sprinkle(false)}`;
  if (broken) {
    // A few broken documents: both readers must refuse them.
    s = pick(random, [
      s.replace('-->', '- ->'),
      s.replace(`</${v.base}>`, `</${v.item}>`),
      s.replace(' title', ' title="x" title'),
      s,
    ]);
  }
  return { vocabulary: v, body: s };
}

// One simulator and worker pool for every case; each case gets a store of its own.
let h: Harness;
beforeAll(async () => {
  h = await createHarness({ fetcher: { maxFeedBytes: 8 * 1024 * 1024 } });
});
afterAll(() => h.close());

describe('XML conformance: the ingest path reads what plain sax reads', () => {
  it(`${CASES} seeded documents from seed ${FIRST_SEED}: the same records and rejections, or both refuse`, async () => {
    for (let seed = FIRST_SEED; seed < FIRST_SEED + CASES; seed++) {
      const { vocabulary, body } = makeDocument(seed);
      const truth = readWholeDocument(body, { provider: 'feverup', timeZone: 'UTC' });
      h.sim.setSource({ kind: 'document', body, vocabulary: vocabulary.name as 'plan' | 'event' });
      const dir = mkdtempSync(join(tmpdir(), 'tessera-xml-'));
      const store = openStoreWriter({ path: dir });
      try {
        const report = await pollFeed(
          {
            ...h.deps,
            store: storeSink(store, 'feverup'),
            // Small chunks, so that documents are cut in many places.
            chunkBytes: 1024 + Math.floor(createRandom(seed)() * 2048),
          },
          new AbortController().signal,
        );
        const where = `seed ${seed} (XML_SEED=${seed} XML_CASES=1 reproduces it):\n${body}`;
        if (truth === 'refused') {
          expect(report.error?.code, where).toBe('feed_malformed');
          continue;
        }
        expect(report.error, where).toBeNull();
        expect(
          [...store.records()].sort((a, b) => a.id.localeCompare(b.id)),
          where,
        ).toEqual(truth.records);
        expect(report.rejected, where).toEqual(truth.rejected);
      } finally {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }, 300_000);
});
