import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { event, fill, json, startApp } from './helpers.js';

type Running = Awaited<ReturnType<typeof startApp>>;
let api: Running;

afterEach(async () => {
  await api.close();
});

function minutes(count: number) {
  const base = Date.parse('2021-01-01T00:00:00Z');
  return Array.from({ length: count }, (_, i) => {
    const start = new Date(base + i * 60_000).toISOString().slice(0, 19);
    const end = new Date(base + i * 60_000 + 30_000).toISOString().slice(0, 19);
    return event(start, end);
  });
}

const scanned = async () => {
  const text = await (await api.get('/metrics')).text();
  return Number(/^tessera_search_events_scanned_total (\d+)/m.exec(text)?.[1] ?? 0);
};

describe('large results', () => {
  it('streams a result over the cache entry limit, complete and in order', async () => {
    // A small entry limit makes a few thousand events too large to cache.
    api = await startApp({ cacheMaxEntryBytes: 64 * 1024 });
    fill(api.writer, minutes(5000));
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

  it('sends a long answer while it is read, not after, and caches it when it fits', async () => {
    // Everything fits the cache: still, the first bytes leave after the first slice. A server
    // that read the whole answer first would send nothing for as long as the scan takes, and
    // its own idle timeout would cut the client off under load.
    api = await startApp({ cacheMaxEntryBytes: 256 * 1024 ** 2 });
    const EVENTS = 100_000;
    fill(api.writer, minutes(EVENTS));
    const socket = connect({ port: api.port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    const first = new Promise<void>((resolve) => {
      socket.once('data', (chunk: Buffer) => {
        socket.pause(); // a slow client: from here the socket's buffers fill and the server waits
        chunks.push(chunk);
        resolve();
      });
    });
    socket.write('GET /search HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n');
    await first;
    expect(chunks[0]!.toString('latin1')).toMatch(/^HTTP\/1.1 200 /);
    await new Promise((r) => setTimeout(r, 300));
    expect(await scanned()).toBeLessThan(EVENTS);

    const ended = new Promise<void>((resolve) => socket.once('end', resolve));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.resume();
    await ended;
    const raw = Buffer.concat(chunks).toString();
    expect(raw).toMatch(/transfer-encoding: chunked/i);
    const cached = await api.get('/search');
    expect(cached.headers.get('content-length')).not.toBeNull();
    expect((await json(cached)).data.events).toHaveLength(EVENTS);
    expect(await scanned()).toBe(EVENTS);
  });
});
