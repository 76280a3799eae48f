import { eventIdFor } from '@tessera/core';
import { PARTNER_EXAMPLES, type PartnerExample } from '@tessera/fixtures';
import { describe, expect, it } from 'vitest';
import { type Mapping, parseFeedFormat } from '../src/index.js';
import { readDocument } from './read-document.js';

/** The records an example's hand-written events must be stored as. */
function expectedRecords(example: PartnerExample) {
  return example.events.map(({ baseId, eventId, startsAt, endsAt, ...fields }) => {
    const id = eventIdFor(example.feed, baseId, eventId);
    return { id, startsAt, endsAt, summary: JSON.stringify({ id, ...fields }) };
  });
}

describe.each(Object.entries(PARTNER_EXAMPLES))("the %s partner's example", (_, example) => {
  const mapping = parseFeedFormat(example.mapping) as Mapping;

  it('gives exactly the events written out by hand, whatever the pieces the text arrives in', () => {
    for (const pieces of [[1], [5, 2], [7, 1, 64, 3], [1 << 20]]) {
      const reading = readDocument(mapping, example.document, {
        provider: example.feed,
        timeZone: example.timeZone,
        pieces,
      });
      expect(reading.records).toEqual(expectedRecords(example));
      expect(reading.offline).toBe(example.offline);
      expect(reading.rejections.map((r) => [r.code, r.field, r.eventId])).toEqual(example.rejected);
    }
  });
});

describe('documents the mapping cannot read', () => {
  const tm = parseFeedFormat(PARTNER_EXAMPLES.tm.mapping) as Mapping;
  const xs = parseFeedFormat(PARTNER_EXAMPLES.xs.mapping) as Mapping;

  it.each([
    ['XML with another root', xs, '<shows><show/></shows>', 'mismatch'],
    ['XML not well-formed', xs, '<catalogue><show></catalogue>', 'malformed'],
    ['XML with a DOCTYPE', xs, '<!DOCTYPE catalogue><catalogue/>', 'malformed'],
    ['XML cut short', xs, '<catalogue><show code="a">', 'malformed'],
    ['JSON cut short', tm, '{"_embedded":{"events":[{"id":1}', 'malformed'],
    ['JSON with text after it', tm, '{"_embedded":{"events":[{}]}} x', 'malformed'],
    ['JSON without the records path', tm, '{"data":[{"id":"x"}]}', 'mismatch'],
    ['JSON that is XML', tm, PARTNER_EXAMPLES.xs.document, 'malformed'],
  ] as const)('%s is %s', (_, mapping, text, kind) => {
    expect(() => readDocument(mapping, text)).toThrow(expect.objectContaining({ kind }));
  });
});
