import { describe, expect, it } from 'vitest';
import { ApiError } from '../src/api-error.js';
import { createSearchQueryParser, parseSearchQuery } from '../src/search-query.js';

const QUERIES = [
  '',
  'starts_at=2021-01-01T00:00:00Z',
  'ends_at=2021-01-01',
  'starts_at=2021-01-01T00:00:00.123Z&ends_at=2021-02-01T00:00:00%2B02:00',
  'starts_at=2021-02-01&ends_at=2021-01-01',
  'starts_at=2021-09-31',
  'starts_at=a&starts_at=b',
  'unknown=1',
  `starts_at=${'2'.repeat(300)}`,
];

function outcome(parse: (q: string) => unknown, query: string) {
  try {
    return { window: parse(query) };
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    const { code, message } = error as ApiError;
    return { code, message };
  }
}

describe('createSearchQueryParser', () => {
  it.each(QUERIES)(
    'remembers %j as exactly what parsing it says, first time and after',
    (query) => {
      const parse = createSearchQueryParser();
      const expected = outcome(parseSearchQuery, query);
      expect(outcome(parse, query)).toEqual(expected);
      expect(outcome(parse, query)).toEqual(expected);
    },
  );

  it('keeps answering right past its memory', () => {
    const parse = createSearchQueryParser();
    for (let i = 0; i < 10_000; i++) {
      const query = `starts_at=${new Date(Date.UTC(2021, 0, 1) + i * 1_000).toISOString()}`;
      expect(parse(query)).toEqual(parseSearchQuery(query));
    }
  });
});
