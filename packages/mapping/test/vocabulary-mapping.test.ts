import { readFileSync } from 'node:fs';
import { createFeedReader, createTimeZone, type FeedReading, VOCABULARIES } from '@tessera/core';
import { FIXTURE_RESPONSES, fixturePath } from '@tessera/fixtures';
import { generateFeed } from '@tessera/simulator';
import sax from 'sax';
import { describe, expect, it } from 'vitest';
import { vocabularyMapping } from '../src/index.js';
import { readDocument } from './read-document.js';

const ZONE = 'Europe/Madrid';

/** The built-in path's reader over a whole document, fed by plain sax. */
function builtIn(text: string): FeedReading {
  const reader = createFeedReader({ provider: 'p', timeZone: createTimeZone(ZONE) });
  const parser = sax.parser(true, { strictEntities: true } as sax.SAXOptions);
  parser.onopentag = (tag) =>
    reader.openElement(tag.name, tag.attributes as Record<string, string>);
  parser.onclosetag = (name) => reader.closeElement(name);
  parser.write(text).close();
  return reader.take();
}

function expectSameReading(text: string, vocabulary: (typeof VOCABULARIES)[number], where: string) {
  const fast = builtIn(text);
  const mapped = readDocument(vocabularyMapping(vocabulary), text, {
    provider: 'p',
    timeZone: ZONE,
    pieces: [4096],
  });
  expect(mapped.records, where).toEqual(fast.records);
  expect(mapped.offline, where).toBe(fast.offline);
  expect(
    mapped.rejections.map((r) => [r.code, r.baseId, r.eventId]),
    where,
  ).toEqual(fast.rejections.map((r) => [r.code, r.baseId, r.eventId]));
}

describe.each(VOCABULARIES)('the built-in $name vocabulary equals its mapping', (vocabulary) => {
  it.each(FIXTURE_RESPONSES)("on the partner's answer %i", (response) => {
    expectSameReading(
      readFileSync(fixturePath(vocabulary.name, response), 'utf8'),
      vocabulary,
      `answer ${response}`,
    );
  });

  it.each([1, 2, 3, 4, 5])('on a generated feed with flaws and offline bases (seed %i)', (seed) => {
    const text = Buffer.concat([
      ...generateFeed({
        vocabulary: vocabulary.name,
        bases: 60,
        seed,
        flawRatio: 0.25,
        onlineRatio: 0.7,
      }),
    ]).toString('utf8');
    expectSameReading(text, vocabulary, `seed ${seed}`);
  });
});

describe('where the two readings differ, on purpose', () => {
  it('a zone without a price: a flaw to the built-in path; to a mapping, one value fewer', () => {
    const text = `<planList><output><base_plan base_plan_id="1" sell_mode="online" title="t">
      <plan plan_id="2" plan_start_date="2026-01-01T20:00:00" plan_end_date="2026-01-01T21:00:00">
        <zone zone_id="1" price="10.00"/><zone zone_id="2" name="no price"/>
      </plan></base_plan></output></planList>`;
    expect(builtIn(text).rejections.map((r) => r.code)).toEqual(['invalid_price']);
    const plan = VOCABULARIES.find((v) => v.name === 'plan')!;
    const mapped = readDocument(vocabularyMapping(plan), text, { provider: 'p', timeZone: ZONE });
    expect(mapped.rejections).toEqual([]);
    expect(JSON.parse(mapped.records[0]!.summary)).toMatchObject({ min_price: 10, max_price: 10 });
  });
});
