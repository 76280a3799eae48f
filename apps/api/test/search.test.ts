import { EventSummarySchema } from '@tessera/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { event, fill, json, startApp } from './helpers.js';

type Running = Awaited<ReturnType<typeof startApp>>;
let api: Running;

beforeEach(async () => {
  api = await startApp();
});
afterEach(async () => {
  await api.close();
});

async function titles(path: string): Promise<string[]> {
  const res = await api.get(path);
  expect(res.status).toBe(200);
  const body = await json(res);
  return body.data.events.map((e: { title: string }) => e.title);
}

describe('GET /search', () => {
  it('answers the spec envelope with exactly the eight fields, in start order', async () => {
    fill(api.writer, [
      event('2021-07-31T20:00:00', '2021-07-31T21:00:00'),
      event('2021-02-10T20:00:00', '2021-02-10T21:30:00'),
    ]);
    const res = await api.get(
      '/search?starts_at=2021-01-01T00:00:00Z&ends_at=2022-01-01T00:00:00Z',
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const body = await json(res);
    expect(Object.keys(body)).toEqual(['data', 'error']);
    expect(body.error).toBeNull();
    expect(body.data.events).toHaveLength(2);
    for (const e of body.data.events) {
      expect(Object.keys(e)).toEqual([
        'id',
        'title',
        'start_date',
        'start_time',
        'end_date',
        'end_time',
        'min_price',
        'max_price',
      ]);
      EventSummarySchema.parse(e);
    }
    expect(body.data.events.map((e: { start_date: string }) => e.start_date)).toEqual([
      '2021-02-10',
      '2021-07-31',
    ]);
  });

  it('returns an empty list for an empty store or window', async () => {
    expect(await titles('/search')).toEqual([]);
    fill(api.writer, [event('2021-07-31T20:00:00', '2021-07-31T21:00:00')]);
    expect(await titles('/search?starts_at=2030-01-01T00:00:00Z')).toEqual([]);
  });

  it('treats both bounds as optional and inclusive', async () => {
    fill(api.writer, [
      event('2021-01-01T10:00:00', '2021-01-01T11:00:00'),
      event('2021-01-02T10:00:00', '2021-01-02T11:00:00'),
      event('2021-01-03T10:00:00', '2021-01-03T11:00:00'),
    ]);
    expect(
      await titles('/search?starts_at=2021-01-02T10:00:00Z&ends_at=2021-01-03T11:00:00Z'),
    ).toEqual(['event 2021-01-02T10:00:00', 'event 2021-01-03T10:00:00']);
    expect(await titles('/search?starts_at=2021-01-02T10:00:01Z')).toEqual([
      'event 2021-01-03T10:00:00',
    ]);
    expect(await titles('/search?ends_at=2021-01-02T10:59:59Z')).toEqual([
      'event 2021-01-01T10:00:00',
    ]);
    expect(await titles('/search?ends_at=2021-01-02T11:00:00%2B00:00')).toHaveLength(2);
    expect(await titles('/search?starts_at=2021-01-02T12:00:00%2B02:00')).toHaveLength(2);
    expect(await titles('/search?starts_at=2021-01-02')).toHaveLength(2);
    expect(await titles('/search')).toHaveLength(3);
  });

  it('excludes an event that starts in the window but ends after it', async () => {
    fill(api.writer, [event('2021-01-01T10:00:00', '2021-01-05T10:00:00')]);
    expect(
      await titles('/search?starts_at=2021-01-01T00:00:00Z&ends_at=2021-01-02T00:00:00Z'),
    ).toEqual([]);
  });

  it.each([
    ['/search?starts_at=yesterday', 'starts_at'],
    ['/search?ends_at=2021-09-31T00:00:00Z', 'ends_at'],
    ['/search?starts_at=2021-02-29', 'starts_at'],
    ['/search?starts_at=2021-01-01T24:00:00Z', 'starts_at'],
    ['/search?starts_at=', 'starts_at'],
    ['/search?starts_at=2022-01-01T00:00:00Z&ends_at=2021-01-01T00:00:00Z', 'starts_at'],
    ['/search?starts_at=2021-01-01T00:00:00Z&starts_at=2021-01-02T00:00:00Z', 'starts_at'],
    ['/search?ends_at=2021-01-01T00:00:00Z&ends_at=2021-01-02T00:00:00Z', 'ends_at'],
    [`/search?starts_at=${'2'.repeat(5000)}`, 'starts_at'],
  ])('answers 400 with the envelope for %s', async (path, parameter) => {
    const res = await api.get(path);
    expect(res.status).toBe(400);
    const body = await json(res);
    expect(body.data).toBeNull();
    expect(body.error.code).toBe('invalid_parameter');
    expect(body.error.message).toContain(parameter);
  });

  it('sends an ETag and answers 304 to If-None-Match until the store changes', async () => {
    fill(api.writer, [event('2021-01-01T10:00:00', '2021-01-01T11:00:00')], 1);
    const first = await api.get('/search');
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^".+"$/);
    const again = await api.get('/search', { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    const otherWindow = await api.get('/search?starts_at=2021-01-01', {
      headers: { 'if-none-match': etag! },
    });
    expect(otherWindow.status).toBe(200);

    fill(api.writer, [event('2021-01-02T10:00:00', '2021-01-02T11:00:00')], 2);
    const changed = await api.get('/search', { headers: { 'if-none-match': etag! } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
    expect((await json(changed)).data.events).toHaveLength(2);
  });

  it('gives the same content in a recreated store other ETags, so no client gets a false 304', async () => {
    const record = event('2021-01-01T10:00:00', '2021-01-01T11:00:00');
    fill(api.writer, [record], 1);
    const recreated = await startApp();
    try {
      fill(recreated.writer, [record], 1);
      const [a, b] = await Promise.all([api.get('/search'), recreated.get('/search')]);
      expect(await b.text()).toBe(await a.text());
      expect(b.headers.get('etag')).not.toBe(a.headers.get('etag'));
      const stale = await recreated.get('/search', {
        headers: { 'if-none-match': a.headers.get('etag')! },
      });
      expect(stale.status).toBe(200);
    } finally {
      await recreated.close();
    }
  });

  it('does not serve a cached body after the store version changes', async () => {
    const before = event('2021-01-01T10:00:00', '2021-01-01T11:00:00', { title: 'before' });
    fill(api.writer, [before], 1);
    expect(await titles('/search')).toEqual(['before']);
    expect(await titles('/search')).toEqual(['before']);
    const after = event('2021-01-01T10:00:00', '2021-01-01T11:00:00', {
      id: before.id,
      title: 'after',
    });
    fill(api.writer, [after], 2);
    expect(await titles('/search')).toEqual(['after']);
  });

  it('keeps serving the same window when an unrelated poll changes nothing', async () => {
    fill(api.writer, [event('2021-01-01T10:00:00', '2021-01-01T11:00:00')], 1);
    const etag = (await api.get('/search')).headers.get('etag');
    api.writer.recordPoll('test', { ok: true, at: 5 });
    expect((await api.get('/search')).headers.get('etag')).toBe(etag);
  });
});
