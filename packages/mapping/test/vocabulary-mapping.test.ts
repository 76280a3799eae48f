import { readFileSync } from 'node:fs';
import { createFeedReader, createTimeZone, type FeedReading, VOCABULARIES } from '@tessera/core';
import { FIXTURE_RESPONSES, fixturePath } from '@tessera/fixtures';
import { conformanceDocument, generateFeed } from '@tessera/simulator';
import sax from 'sax';
import { describe, expect, it } from 'vitest';
import { vocabularyMapping } from '../src/index.js';
import { readDocument } from './read-document.js';

const ZONE = 'Europe/Madrid';

/** The built-in path's reader over a whole document, fed by plain sax. */
function builtIn(text: string): FeedReading {
  const reader = createFeedReader({ provider: 'p', timeZone: createTimeZone(ZONE) });
  const parser = sax.parser(true, { strictEntities: true } as sax.SAXOptions);
  // Without a handler sax only records an error found at close(): a broken document must throw.
  parser.onerror = (error) => {
    throw error;
  };
  parser.onopentag = (tag) =>
    reader.openElement(tag.name, tag.attributes as Record<string, string>);
  parser.onclosetag = (name) => reader.closeElement(name);
  parser.write(text).close();
  return reader.take();
}

/** The reading, or 'refused' for a document the reader throws on. */
function readOrRefuse<T>(read: () => T): T | 'refused' {
  try {
    return read();
  } catch {
    return 'refused';
  }
}

function expectSameReading(text: string, vocabulary: (typeof VOCABULARIES)[number], where: string) {
  const fast = readOrRefuse(() => builtIn(text));
  const mapped = readOrRefuse(() =>
    readDocument(vocabularyMapping(vocabulary), text, {
      provider: 'p',
      timeZone: ZONE,
      pieces: [4096],
    }),
  );
  if (fast === 'refused' || mapped === 'refused') {
    expect(mapped, where).toBe(fast);
    return;
  }
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

/**
 * The ingestor's XML conformance corpus, chosen by the same `XML_SEED` and `XML_CASES`; a
 * failure names its seed.
 */
const XML_CASES = Number(process.env.XML_CASES ?? 300);
const XML_SEED = Number(process.env.XML_SEED ?? 1);

describe('the built-in vocabularies equal their mappings on the conformance corpus', () => {
  it(`${XML_CASES} seeded documents from seed ${XML_SEED}: the same reading, or both refuse`, () => {
    const seen = { refused: 0, read: 0 };
    for (let seed = XML_SEED; seed < XML_SEED + XML_CASES; seed++) {
      const { vocabulary, body } = conformanceDocument(seed);
      const where = `seed ${seed} (XML_SEED=${seed} XML_CASES=1 reproduces it):\n${body}`;
      const builtInVocabulary = VOCABULARIES.find((v) => v.name === vocabulary.name)!;
      expectSameReading(body, builtInVocabulary, where);
      seen[readOrRefuse(() => builtIn(body)) === 'refused' ? 'refused' : 'read'] += 1;
    }
    // The corpus must hold both kinds for the comparison to mean anything.
    if (XML_CASES >= 100) expect(seen.refused).toBeGreaterThan(0);
    expect(seen.read).toBeGreaterThan(0);
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
