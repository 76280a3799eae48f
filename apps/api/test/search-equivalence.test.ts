import { runsOfEvents } from '@tessera/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { event, fill, startApp } from './helpers.js';

/**
 * Every fast path serves exactly what the slow path does: a cached answer, a first (uncached)
 * answer read from the store's blocks, an answer streamed in slices, the same store read one
 * event at a time (the reference), and HEAD all agree byte for byte and header for header.
 */
type Running = Awaited<ReturnType<typeof startApp>>;
const apps: Record<'cached' | 'uncached' | 'sliced' | 'eventByEvent', Running> = {} as never;

const WINDOWS = [
  '',
  '?starts_at=2021-01-01T00:00:00Z',
  '?ends_at=2021-01-02T00:00:00Z',
  '?starts_at=2021-01-01T06:00:00Z&ends_at=2021-01-01T18:00:00Z',
  '?starts_at=2021-01-01T06:00:00.400Z&ends_at=2021-01-01T18:00:00.900Z',
  '?starts_at=2030-01-01T00:00:00Z',
  // Inside one block, and across a block's end, by start and by end alone.
  '?starts_at=2021-01-01T07:21:00Z&ends_at=2021-01-01T08:40:00Z',
  '?starts_at=2021-01-01T07:21:00Z&ends_at=2021-01-01T12:55:00Z',
];

beforeAll(async () => {
  apps.cached = await startApp();
  apps.uncached = await startApp({ cacheMaxBytes: 0 });
  // One event per slice and a cache entry limit below most answers: the streaming path.
  apps.sliced = await startApp({
    sliceEvents: 1,
    cacheMaxEntryBytes: 512,
    // Room for every answer of the interleaving case at once.
    scanConcurrency: 64,
    scanEventsPerSecond: 1e9,
  });
  // The reference: the same store scanned one event at a time, as before it had blocks.
  apps.eventByEvent = await startApp({ cacheMaxBytes: 0 });
  const reader = apps.eventByEvent.reader;
  reader.runs = (window) => runsOfEvents(reader.scan(window));
  const base = Date.parse('2021-01-01T00:00:00Z');
  const records = Array.from({ length: 300 }, (_, i) => {
    const start = new Date(base + i * 7 * 60_000).toISOString().slice(0, 19);
    const end = new Date(base + i * 7 * 60_000 + 3_600_000).toISOString().slice(0, 19);
    return event(start, end, { minPrice: i, maxPrice: i + 0.5 });
  });
  for (const running of Object.values(apps)) fill(running.writer, records, 1);
});
afterAll(async () => {
  for (const running of Object.values(apps)) await running.close();
});

/**
 * What a client can observe of an answer, but the headers that differ by design: the date, the
 * request id, the connection's own (undici asks to close after a HEAD) and chunked framing. The
 * ETag and the Changes-Token name the store, so stores filled alike differ there.
 */
const PER_EXCHANGE = [
  'date',
  'x-request-id',
  'etag',
  'changes-token',
  'connection',
  'keep-alive',
  'transfer-encoding',
];

async function observe(running: Running, path: string, method = 'GET') {
  const res = await running.get(`/search${path}`, { method });
  const headers = Object.fromEntries(
    [...res.headers].filter(([name]) => !PER_EXCHANGE.includes(name)),
  );
  // The ETag names the store, so stores filled alike still differ; its window part must not.
  const etag = res.headers.get('etag')?.replace(/^"[^.]+\./, '"');
  expect(res.headers.get('changes-token')).toMatch(/^[\w-]{28}$/);
  return { status: res.status, etag, headers, body: await res.text() };
}

function withoutLength(answer: Awaited<ReturnType<typeof observe>>) {
  const { 'content-length': _length, ...headers } = answer.headers;
  return { ...answer, headers };
}

describe.each(WINDOWS)('/search%s', (path) => {
  it('is the same answer event by event, uncached from blocks, cached, and streamed in slices', async () => {
    const first = await observe(apps.cached, path);
    const cached = await observe(apps.cached, path);
    const uncached = await observe(apps.uncached, path);
    const sliced = await observe(apps.sliced, path);
    const reference = await observe(apps.eventByEvent, path);
    expect(first.status).toBe(200);
    expect(first).toEqual(reference);
    expect(cached).toEqual(first);
    expect(uncached).toEqual(first);
    // A streamed answer goes out chunked, without a length; all else is the same.
    const events = JSON.parse(first.body).data.events.length;
    expect(sliced.headers['content-length'] === undefined).toBe(events > 0);
    expect(withoutLength(sliced)).toEqual(withoutLength(first));
  });

  it('answers HEAD with the headers of GET, cached or not, and no body', async () => {
    const fresh = await startApp();
    try {
      const base = Date.parse('2021-01-01T00:00:00Z');
      fill(fresh.writer, [event(new Date(base).toISOString().slice(0, 19), '2021-01-01T01:00:00')]);
      const uncachedHead = await observe(fresh, path, 'HEAD');
      const get = await observe(fresh, path);
      const cachedHead = await observe(fresh, path, 'HEAD');
      expect(uncachedHead.body).toBe('');
      expect(cachedHead.body).toBe('');
      expect(cachedHead.headers).toEqual(get.headers);
      expect(cachedHead.etag).toBe(get.etag);
      // An uncached HEAD reads nothing, so it cannot know the length.
      expect(withoutLength(uncachedHead)).toEqual({ ...withoutLength(get), body: '' });
    } finally {
      await fresh.close();
    }
  });
});

describe('answers read over several turns at once', () => {
  it('never mix: each is the answer it gets alone, paged or not', async () => {
    const paths = [...WINDOWS, ...WINDOWS.map((w) => `${w}${w === '' ? '?' : '&'}limit=50`)];
    const read = async (running: Running, path: string) => {
      const res = await running.get(`/search${path}`);
      return `${res.status} ${await res.text()}`;
    };
    const alone: string[] = [];
    for (const path of paths) alone.push(await read(apps.eventByEvent, path));
    // One event per slice: every answer is read over many turns, interleaved with the others.
    const together = await Promise.all(paths.map((path) => read(apps.sliced, path)));
    for (const [i, path] of paths.entries()) {
      expect(alone[i], path).toMatch(/^200 /);
      expect(together[i], path).toBe(alone[i]);
    }
  });
});
