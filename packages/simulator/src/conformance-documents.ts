import { VOCABULARIES, type Vocabulary } from '@tessera/core';
import { createRandom } from './random.js';

/**
 * The XML conformance corpus: seeded documents full of what a byte-level splitter or a reader
 * can trip on — comments, CDATA sections and processing instructions that spell base, event and
 * zone tags, entities and character references, both quote styles, odd whitespace, shuffled
 * attributes — and a few broken ones. Any reader of the partner's XML is held to plain sax over
 * the same documents.
 */

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

/**
 * One seeded document of the conformance corpus, in either vocabulary; about one in ten is
 * broken (a parser must refuse it).
 */
export function conformanceDocument(seed: number): { vocabulary: Vocabulary; body: string } {
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
