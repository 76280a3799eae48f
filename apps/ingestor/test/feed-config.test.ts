import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { digestFeeds, redactUrl } from '../src/feed-config.js';

const feeds = (value: unknown, env: Record<string, string> = {}) =>
  loadConfig({ FEEDS: typeof value === 'string' ? value : JSON.stringify(value), ...env }).feeds;

describe('FEEDS', () => {
  it('unset, PROVIDER_URL, PROVIDER_ID and PROVIDER_TIMEZONE are the one feed, as before', () => {
    expect(
      loadConfig({
        PROVIDER_URL: 'http://p.example/events',
        PROVIDER_ID: 'acme',
        PROVIDER_TIMEZONE: 'Europe/Madrid',
        POLL_INTERVAL_MS: '700',
      }).feeds,
    ).toEqual([
      {
        id: 'acme',
        url: 'http://p.example/events',
        timeZone: 'Europe/Madrid',
        pollIntervalMs: 700,
        headers: {},
        format: 'fever',
      },
    ]);
  });

  it('reads every entry, with the defaults for what an entry leaves out, inline or from @file', () => {
    const list = [
      { id: 'a', url: 'https://a.example/feed' },
      {
        id: 'b',
        url: 'http://b.example/x?y=1',
        timezone: 'America/New_York',
        poll_interval_ms: 5,
        headers: { 'X-Key': 'k' },
      },
    ];
    const expected = [
      {
        id: 'a',
        url: 'https://a.example/feed',
        timeZone: 'UTC',
        pollIntervalMs: 30_000,
        headers: {},
        format: 'fever',
      },
      {
        id: 'b',
        url: 'http://b.example/x?y=1',
        timeZone: 'America/New_York',
        pollIntervalMs: 5,
        headers: { 'X-Key': 'k' },
        format: 'fever',
      },
    ];
    expect(feeds(list)).toEqual(expected);
    const dir = mkdtempSync(join(tmpdir(), 'tessera-feeds-'));
    try {
      writeFileSync(join(dir, 'feeds.json'), JSON.stringify(list));
      expect(feeds(`@${join(dir, 'feeds.json')}`)).toEqual(expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes header values named env:NAME from the environment, so that secrets stay out of the file', () => {
    const [feed] = feeds(
      [{ id: 'x', url: 'https://x.example/', headers: { Authorization: 'env:X_TOKEN' } }],
      {
        X_TOKEN: 'Bearer s3cret',
      },
    );
    expect(feed?.headers).toEqual({ Authorization: 'Bearer s3cret' });
  });

  it.each([
    ['not JSON', '[{', /^invalid setting FEEDS: not JSON or a readable @file/],
    ['an empty list', [], /must be a non-empty JSON array/],
    [
      'a duplicate id',
      [
        { id: 'a', url: 'http://a/' },
        { id: 'a', url: 'http://b/' },
      ],
      /^invalid setting FEEDS: entry 1 \(a\): the id a is used twice$/,
    ],
    [
      'a bad URL',
      [{ id: 'a', url: 'ftp://a/' }],
      /^invalid setting FEEDS: entry 0 \(a\): url: url must be an http:\/\/ or https:\/\/ URL$/,
    ],
    [
      'an unknown key',
      [{ id: 'a', url: 'http://a/', pol_interval_ms: 5 }],
      /^invalid setting FEEDS: entry 0 \(a\): .*pol_interval_ms/,
    ],
    [
      'a bad id',
      [{ id: 'A B', url: 'http://a/' }],
      /^invalid setting FEEDS: entry 0 \(A B\): id: id must be lower-case/,
    ],
    [
      'a bad time zone',
      [{ id: 'a', url: 'http://a/', timezone: 'Mars/Base' }],
      /entry 0 \(a\): timezone: timezone is not an IANA time zone/,
    ],
    [
      'a missing secret',
      [{ id: 'a', url: 'http://a/', headers: { Authorization: 'env:NOPE' } }],
      /entry 0 \(a\): header Authorization names NOPE, which is not set/,
    ],
    [
      'an unknown format',
      [{ id: 'a', url: 'http://a/', format: 'csv' }],
      /^invalid setting FEEDS: entry 0 \(a\): format: "csv" is not a format/,
    ],
    [
      'a mapping with a field missing',
      [{ id: 'a', url: 'http://a/', format: { ...MAPPING, fields: { event_id: 'id' } } }],
      /^invalid setting FEEDS: entry 0 \(a\): format\.fields\.title: /,
    ],
    [
      'a mapping path that does not parse',
      [
        {
          id: 'a',
          url: 'http://a/',
          format: { ...MAPPING, fields: { ...MAPPING.fields, title: 'a..b' } },
        },
      ],
      /^invalid setting FEEDS: entry 0 \(a\): format\.fields\.title: "a\.\.b" is not a JSON path/,
    ],
    [
      'an unknown mapping field',
      [
        {
          id: 'a',
          url: 'http://a/',
          format: { ...MAPPING, fields: { ...MAPPING.fields, venue: 'v' } },
        },
      ],
      /^invalid setting FEEDS: entry 0 \(a\): format\.fields: .*venue/,
    ],
    [
      'an unreadable format file',
      [{ id: 'a', url: 'http://a/', format: '@/nonexistent/mapping.json' }],
      /^invalid setting FEEDS: entry 0 \(a\): format @\/nonexistent\/mapping\.json is not JSON or a readable file/,
    ],
  ])('refuses %s at boot, naming the entry', (_, value, message) => {
    expect(() => feeds(value)).toThrow(message);
  });

  it('takes a mapping inline, or from a file named relative to the FEEDS file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-feeds-'));
    try {
      writeFileSync(join(dir, 'tm.json'), JSON.stringify(MAPPING));
      writeFileSync(
        join(dir, 'feeds.json'),
        JSON.stringify([{ id: 'tm', url: 'https://tm.example/', format: '@tm.json' }]),
      );
      const [fromFile] = feeds(`@${join(dir, 'feeds.json')}`);
      const [inline] = feeds([{ id: 'tm', url: 'https://tm.example/', format: MAPPING }]);
      expect(fromFile?.format).toEqual(MAPPING);
      expect(inline?.format).toEqual(MAPPING);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const MAPPING = {
  type: 'json',
  records: 'events[*]',
  fields: { event_id: 'id', title: 'name', starts_at: 'start', ends_at: 'end' },
};

describe('redactUrl', () => {
  it('drops credentials and hides query values', () => {
    expect(redactUrl('https://user:pw@p.example/feed?token=abc&x=1&x=2')).toBe(
      'https://p.example/feed?token=…&x=…',
    );
    expect(redactUrl('http://p.example/api/events')).toBe('http://p.example/api/events');
  });
});

describe('digestFeeds', () => {
  const base = [
    { id: 'a', url: 'http://a/', timezone: 'UTC' },
    { id: 'b', url: 'http://b/', timezone: 'Europe/Madrid' },
  ];
  const digest = (value: unknown, env: Record<string, string> = {}) =>
    digestFeeds(feeds(value, env));

  it.each([
    ['another order', [base[1], base[0]]],
    ['another poll interval', [{ ...base[0], poll_interval_ms: 5 }, base[1]]],
    ['other header values', [{ ...base[0], headers: { 'X-Token': 'env:T' } }, base[1]]],
    ['the built-in format named', [{ ...base[0], format: 'fever' }, base[1]]],
  ])('is the same for %s: nothing in a feed changes', (_, value) => {
    expect(digest(value, { T: 'node-own' })).toBe(digest(base));
  });

  it.each([
    ['a feed more', [...base, { id: 'c', url: 'http://c/' }]],
    ['a feed less', [base[0]]],
    ['another URL', [{ ...base[0], url: 'http://a/v2' }, base[1]]],
    ['another time zone', [{ ...base[0], timezone: 'Asia/Tokyo' }, base[1]]],
    ['another id', [{ ...base[0], id: 'z' }, base[1]]],
    ['a mapping', [{ ...base[0], format: MAPPING }, base[1]]],
  ])('differs for %s: what a feed holds depends on it', (_, value) => {
    expect(digest(value)).not.toBe(digest(base));
  });
});
