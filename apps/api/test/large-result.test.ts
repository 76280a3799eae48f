import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { event, fill, json, startApp } from './helpers.js';

type Running = Awaited<ReturnType<typeof startApp>>;
let api: Running;

beforeEach(async () => {
  // A small entry limit makes a few thousand events take the streaming path.
  api = await startApp({ cacheMaxEntryBytes: 64 * 1024 });
});
afterEach(async () => {
  await api.close();
});

describe('large results', () => {
  it('streams a result over the cache entry limit, complete and in order', async () => {
    const base = Date.parse('2021-01-01T00:00:00Z');
    const records = Array.from({ length: 5000 }, (_, i) => {
      const start = new Date(base + i * 60_000).toISOString().slice(0, 19);
      const end = new Date(base + i * 60_000 + 30_000).toISOString().slice(0, 19);
      return event(start, end);
    });
    fill(api.writer, records);
    const res = await api.get('/search');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBeNull();
    const body = await json(res);
    expect(body.error).toBeNull();
    expect(body.data.events).toHaveLength(5000);
    const starts = body.data.events.map(
      (e: { start_date: string; start_time: string }) => `${e.start_date}T${e.start_time}`,
    );
    expect([...starts].sort()).toEqual(starts);
    // The same query again streams again (too large to cache) and is identical.
    const again = await json(await api.get('/search'));
    expect(again).toEqual(body);
  });
});
