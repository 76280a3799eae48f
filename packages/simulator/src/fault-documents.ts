import { gzipSync } from 'node:zlib';
import { type Vocabulary, type VocabularyName, vocabularyNamed } from '@tessera/core';
import type { Fault } from './fault-plan.js';

/** Base id of the one sound event in the record-fault documents. */
export const SOUND_BASE_ID = '9001';

export function htmlErrorPage(): string {
  return '<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>\n';
}

function item(
  v: Vocabulary,
  id: string | null,
  start: string,
  end: string | null,
  zones = '<zone zone_id="1" capacity="10" price="12.50" name="A" numbered="false"/>',
): string {
  const idAttr = id === null ? '' : ` ${v.itemId}="${id}"`;
  const endAttr = end === null ? '' : ` ${v.itemEnd}="${end}"`;
  return `<${v.item} ${v.itemStart}="${start}"${endAttr}${idAttr} sell_from="2021-01-01T00:00:00" sell_to="2021-12-01T00:00:00" sold_out="false">${zones}</${v.item}>`;
}

function base(v: Vocabulary, id: string, items: string, title = 'Fault show'): string {
  return `<${v.base} ${v.baseId}="${id}" sell_mode="online" title="${title}">${items}</${v.base}>`;
}

function doc(v: Vocabulary, body: string, root = v.root): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root} version="1.0"><output>${body}</output></${root}>\n`;
}

const SOUND = (v: Vocabulary) =>
  base(v, SOUND_BASE_ID, item(v, '1', '2021-11-05T20:00:00', '2021-11-05T22:00:00'), 'Sound show');

/** The body of each document-shaped fault, in the requested vocabulary. */
export function faultDocument(
  fault: Fault,
  vocabulary: VocabularyName,
  externalUrl: string,
): string {
  const v = vocabularyNamed(vocabulary);
  switch (fault.kind) {
    case 'malformed':
      // Mismatched closing tags: well-formedness fails in the middle of the document.
      return doc(v, `${SOUND(v)}${base(v, '9002', `<${v.item} ${v.itemId}="1"></${v.base}>`)}`);
    case 'wrong_root':
      return doc(v, SOUND(v), 'catalogue');
    case 'invalid_dates':
      return doc(
        v,
        SOUND(v) +
          base(
            v,
            '9003',
            item(v, '1', '2021-09-31T20:00:00', '2021-09-31T21:00:00') +
              item(v, '2', '2021-02-29T20:00:00', '2021-03-01T21:00:00') +
              item(v, '3', '2021-06-30T24:00:00', '2021-07-01T01:00:00'),
          ),
      );
    case 'missing_attributes':
      return doc(
        v,
        SOUND(v) +
          base(
            v,
            '9004',
            item(v, null, '2021-10-01T20:00:00', '2021-10-01T21:00:00') +
              item(v, '2', '2021-10-02T20:00:00', null),
          ) +
          `<${v.base} sell_mode="online" title="No id">${item(v, '3', '2021-10-03T20:00:00', '2021-10-03T21:00:00')}</${v.base}>`,
      );
    case 'huge_attribute':
      return doc(
        v,
        SOUND(v) +
          base(
            v,
            '9005',
            item(v, '1', '2021-10-01T20:00:00', '2021-10-01T21:00:00'),
            'A'.repeat(fault.bytes),
          ),
      );
    case 'deep_nesting':
      return doc(
        v,
        SOUND(v) +
          base(
            v,
            '9006',
            item(
              v,
              '1',
              '2021-10-01T20:00:00',
              '2021-10-01T21:00:00',
              `${'<x>'.repeat(fault.depth)}${'</x>'.repeat(fault.depth)}`,
            ),
          ),
      );
    case 'entity_bomb': {
      const levels = ['<!ENTITY lol0 "lol">'];
      for (let i = 1; i <= 9; i++) levels.push(`<!ENTITY lol${i} "${`&lol${i - 1};`.repeat(10)}">`);
      levels.push(`<!ENTITY ext SYSTEM "${externalUrl}">`);
      return `<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE ${v.root} [\n${levels.join('\n')}\n]>\n<${v.root}><output>${base(v, '9007', item(v, '1', '2021-10-01T20:00:00', '2021-10-01T21:00:00'), '&lol9;&ext;')}</output></${v.root}>\n`;
    }
    default:
      throw new Error(`not a document fault: ${fault.kind}`);
  }
}

let bombMember: Buffer | undefined;
const MEMBER_BYTES = 16 * 1024 * 1024;

/**
 * gzip members that each inflate to 16 MiB of spaces inside a feed: a few KiB on the wire per
 * member, `inflatedBytes` after inflating. Concatenated gzip members are one valid gzip stream.
 */
export function* gzipBomb(inflatedBytes: number): Generator<Buffer> {
  yield gzipSync(Buffer.from('<?xml version="1.0"?>\n<planList><output>'));
  bombMember ??= gzipSync(Buffer.alloc(MEMBER_BYTES, 0x20), { level: 9 });
  for (let sent = 0; sent < inflatedBytes; sent += MEMBER_BYTES) yield bombMember;
  yield gzipSync(Buffer.from('</output></planList>\n'));
}
