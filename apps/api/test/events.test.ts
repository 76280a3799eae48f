import { eventIdFor } from '@tessera/core';
import { createRandom } from '@tessera/simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { event, fill, json, startApp } from './helpers.js';

const SEED = Number(process.env.EVENTS_SEED ?? 1);
const random = createRandom(SEED);

type Running = Awaited<ReturnType<typeof startApp>>;
let api: Running;
/** What was written, by id: the reference /events/{id} is held to, besides /search. */
const written = new Map<string, unknown>();

beforeAll(async () => {
  api = await startApp();
  const base = Date.parse('2021-03-01T00:00:00Z');
  const iso = (t: number) => new Date(t).toISOString().slice(0, 19);
  const records = Array.from({ length: 400 }, (_, i) => {
    const start = base + Math.floor(random() * 90) * 86_400_000;
    const prices = random() < 0.2 ? { minPrice: null, maxPrice: null } : {};
    return event(iso(start), iso(start + 7_200_000), { title: `show ${i} «ü»`, ...prices });
  });
  for (const r of records) written.set(r.id, JSON.parse(r.summary));
  fill(api.writer, records, 1);
});
afterAll(async () => {
  await api.close();
});

describe(`GET /events/{id} (EVENTS_SEED=${SEED})`, () => {
  it('answers every event of the store exactly as /search lists it', async () => {
    const listed = (await json(await api.get('/search'))).data.events as Array<{ id: string }>;
    expect(listed).toHaveLength(400);
    for (const summary of listed) {
      const res = await api.get(`/events/${summary.id}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(await json(res)).toEqual({ data: { event: summary }, error: null });
      expect(summary).toEqual(written.get(summary.id));
    }
    expect(new Set(listed.map((e) => e.id))).toEqual(new Set(written.keys()));
  });

  it('is ETagged by the event itself: 304 until it changes, whatever the others do', async () => {
    const first = (await json(await api.get('/search'))).data.events[0] as { id: string };
    const res = await api.get(`/events/${first.id}`);
    const etag = res.headers.get('etag') ?? '';
    expect(etag).toMatch(/^"[\w-]{22}"$/);
    expect(
      (await api.get(`/events/${first.id}`, { headers: { 'If-None-Match': etag } })).status,
    ).toBe(304);
    fill(api.writer, [event('2030-01-01T00:00:00', '2030-01-01T01:00:00')], 2);
    expect(
      (await api.get(`/events/${first.id}`, { headers: { 'If-None-Match': etag } })).status,
    ).toBe(304);
    const head = await api.get(`/events/${first.id}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('etag')).toBe(etag);
    expect(head.headers.get('content-length')).toBe(res.headers.get('content-length'));
  });

  it('serves an event changed by a write at once, not a remembered answer', async () => {
    const listed = (await json(await api.get('/search'))).data.events as Array<{ id: string }>;
    const target = listed[5] as { id: string; title: string };
    const before = await api.get(`/events/${target.id}`);
    expect((await json(before)).data.event.title).toBe(target.title);
    const changed = { ...target, title: 'renamed' };
    const startsAt = Date.parse(
      `${(target as never as { start_date: string }).start_date}T00:00:00Z`,
    );
    fill(
      api.writer,
      [{ id: target.id, startsAt, endsAt: startsAt, summary: JSON.stringify(changed) }],
      3,
    );
    const after = await api.get(`/events/${target.id}`);
    expect((await json(after)).data.event.title).toBe('renamed');
    expect(after.headers.get('etag')).not.toBe(before.headers.get('etag'));
  });

  it('accepts an upper-case id, refuses one that is not a UUID, and answers 404 for an unknown one', async () => {
    const first = (await json(await api.get('/search'))).data.events[0] as { id: string };
    expect((await api.get(`/events/${first.id.toUpperCase()}`)).status).toBe(200);
    for (const bad of ['42', 'not-a-uuid', `${first.id}x`, '%00']) {
      const res = await api.get(`/events/${bad}`);
      expect(res.status, bad).toBe(400);
      expect((await json(res)).error.code).toBe('invalid_parameter');
    }
    const unknown = await api.get(`/events/${eventIdFor('test', 'no', 'such')}`);
    expect(unknown.status).toBe(404);
    expect((await json(unknown)).error.code).toBe('not_found');
  });
});
