import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { waitUntil } from '@tessera/testkit';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { event, fill, json, startApp } from './helpers.js';

type Running = Awaited<ReturnType<typeof startApp>>;
let api: Running | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await api?.close();
  api = undefined;
});

const BASE = Date.parse('2021-01-01T00:00:00Z');
/** `count` events a minute apart from 2021-01-01, each with a title of `titleBytes`. */
function minutes(count: number, titleBytes = 20) {
  return Array.from({ length: count }, (_, i) => {
    const start = new Date(BASE + i * 60_000).toISOString().slice(0, 19);
    const end = new Date(BASE + i * 60_000 + 30_000).toISOString().slice(0, 19);
    return event(start, end, { title: `event ${start}`.padEnd(titleBytes, '.') });
  });
}

/**
 * The most a client that stops reading can leave in flight on loopback: the server's send
 * buffer and the client's receive buffer, each at most its kernel maximum. These differ between
 * kernels (4 MiB and 32 MiB here, 4 and 6 MiB by default); a "stalled" answer that fits them is
 * not stalled at all, it is delivered to the kernel and done.
 */
function socketBufferBytes(): number {
  const max = (name: string) =>
    Number(readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim().split(/\s+/)[2]);
  try {
    return max('tcp_wmem') + max('tcp_rmem');
  } catch {
    return 64 * 1024 ** 2; // not Linux: a generous guess
  }
}

const STALLED_EVENTS = 20_000;
/** Events whose answer is half again as large as anything the socket buffers could take. */
const stallingEvents = () =>
  minutes(STALLED_EVENTS, Math.ceil((1.5 * socketBufferBytes()) / STALLED_EVENTS));

/** Reader slots in LMDB's lock file (every process's). */
const readerSlots = (running: Running) =>
  running.reader
    .readerList()
    .split('\n')
    .filter((line) => /^\s*\d+\s/.test(line)).length;

const scanned = async (running: Running) => {
  const text = await (await running.get('/metrics')).text();
  return Number(/^tessera_search_events_scanned_total (\d+)/m.exec(text)?.[1] ?? 0);
};

const openConnections = (running: Running) =>
  new Promise<number>((resolve, reject) =>
    running.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );

/** A raw connection that sends one request and never reads the answer. */
function stalledClient(port: number, path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' }, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: test\r\n\r\n`);
      socket.pause();
      resolve(socket);
    });
    socket.on('error', () => {});
    socket.once('error', reject);
    sockets.push(socket);
  });
}

/** A log that keeps its JSON lines, to read what the API logged. */
function capturedLog() {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()));
        done();
      },
    }),
  );
  return { log, lines };
}

describe('HEAD /search', () => {
  it('answers with the headers of a GET at once and scans nothing; Content-Length once cached', async () => {
    api = await startApp({ cacheMaxEntryBytes: 64 * 1024 });
    fill(api.writer, minutes(5_000));
    const before = await scanned(api);
    const started = performance.now();
    const head = await api.get('/search', { method: 'HEAD' });
    expect(performance.now() - started).toBeLessThan(500);
    expect(head.status).toBe(200);
    expect(head.headers.get('etag')).toMatch(/^".+"$/);
    expect(head.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await scanned(api)).toBe(before);

    const window = '?starts_at=2021-01-01T00:00:00Z&ends_at=2021-01-01T01:00:00Z';
    const get = await api.get(`/search${window}`);
    const body = await get.arrayBuffer();
    const cachedHead = await api.get(`/search${window}`, { method: 'HEAD' });
    expect(cachedHead.headers.get('content-length')).toBe(String(body.byteLength));
    expect(cachedHead.headers.get('etag')).toBe(get.headers.get('etag'));
  });
});

describe('clients that stop reading or hang up', () => {
  it('a client that hangs up mid-stream leaves no open read transaction', async () => {
    api = await startApp({ cacheMaxEntryBytes: 64 * 1024 });
    fill(api.writer, stallingEvents());
    const baseline = readerSlots(api);
    const socket = await stalledClient(api.port, '/search');
    // The stream holds a snapshot; a commit makes the process renew its own read transaction,
    // so the stream's is a slot of its own.
    await new Promise((r) => setTimeout(r, 100));
    fill(api.writer, minutes(1));
    await api.get('/search?starts_at=2030-01-01');
    await waitUntil(() => readerSlots(api!) > baseline, { what: 'the stream holding a slot' });
    socket.destroy();
    await waitUntil(() => readerSlots(api!) === baseline, {
      what: 'the slot back',
      timeoutMs: 5_000,
    });
  });

  it('a client that stops reading is cut off after the idle timeout, freeing its scan', async () => {
    api = await startApp({ cacheMaxEntryBytes: 64 * 1024 }, { idleMs: 500 });
    fill(api.writer, stallingEvents());
    await stalledClient(api.port, '/search');
    const started = Date.now();
    // The client never reads, so only the server sees its side closed.
    await waitUntil(async () => (await openConnections(api!)) === 0, {
      what: 'the stalled connection closed',
      timeoutMs: 5_000,
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    // Its slot is free again: another large answer is admitted.
    const res = await api.get('/search');
    expect(res.status).toBe(200);
    expect((await json(res)).data.events).toHaveLength(STALLED_EVENTS);
  });
});

describe('admission control', () => {
  it('refuses large uncached scans past the budget with the envelope and Retry-After; small and cached windows still answer', async () => {
    api = await startApp(
      { cacheMaxEntryBytes: 64 * 1024, scanConcurrency: 1, scanEventsPerSecond: 1_000_000 },
      { idleMs: 60_000 },
    );
    fill(api.writer, stallingEvents());
    const small = '/search?starts_at=2021-01-01T00:00:00Z&ends_at=2021-01-01T00:30:00Z';
    expect((await api.get(small)).status).toBe(200);
    // One stalled stream holds the only slot.
    await stalledClient(api.port, '/search');
    await new Promise((r) => setTimeout(r, 200));
    const refused = await api.get('/search?starts_at=2021-01-02T00:00:00Z');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await json(refused)).toEqual({
      error: { code: 'overloaded', message: 'too many large searches at once; retry shortly' },
      data: null,
    });
    // A small uncached window needs no slot; a cached one is never refused.
    expect(
      (await api.get('/search?starts_at=2021-01-05T00:00:00Z&ends_at=2021-01-05T01:00:00Z')).status,
    ).toBe(200);
    expect((await api.get(small)).status).toBe(200);
  });

  it('answers windows that differ only in milliseconds from one cache entry with one ETag', async () => {
    api = await startApp();
    fill(api.writer, minutes(100));
    const first = await api.get('/search?starts_at=2021-01-01T00:10:00.001Z');
    const before = await scanned(api);
    const second = await api.get('/search?starts_at=2021-01-01T00:10:00.999Z');
    expect(second.headers.get('etag')).toBe(first.headers.get('etag'));
    expect(await second.text()).toBe(await first.text());
    expect(await scanned(api)).toBe(before);
  });
});

describe('request ids and the access log', () => {
  it("returns the caller's X-Request-Id, or a new one, and logs only failed or slow requests", async () => {
    const { log, lines } = capturedLog();
    api = await startApp({ log, slowRequestMs: 60_000 });
    const mine = await api.get('/search', { headers: { 'x-request-id': 'lb-1234' } });
    expect(mine.headers.get('x-request-id')).toBe('lb-1234');
    const generated = await api.get('/search');
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
    const unsafe = await api.get('/health', { headers: { 'x-request-id': 'a b\u00e9' } });
    expect(unsafe.headers.get('x-request-id')).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
    expect(lines.filter((l) => l.reqId !== undefined)).toEqual([]);

    const bad = await api.get('/search?starts_at=nope', { headers: { 'x-request-id': 'req-42' } });
    expect(bad.status).toBe(400);
    expect(lines).toEqual([
      expect.objectContaining({
        reqId: 'req-42',
        method: 'GET',
        path: '/search',
        status: 400,
        msg: 'request refused',
      }),
    ]);
  });

  it('logs an answer that fails after its headers were sent, with its request id, and counts it as a failure', async () => {
    const { log, lines } = capturedLog();
    api = await startApp({ log, cacheMaxEntryBytes: 64 * 1024 });
    fill(api.writer, stallingEvents());
    const socket = await stalledClient(api.port, '/search');
    await new Promise((r) => setTimeout(r, 200));
    // The store goes away under the stream.
    await api.reader.close();
    socket.resume();
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await waitUntil(() =>
      lines.some((l) => l.msg === 'search answer failed after its headers were sent'),
    );
    const failure = lines.find((l) => l.msg === 'search answer failed after its headers were sent');
    expect(failure?.reqId).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
    expect(lines).toContainEqual(
      expect.objectContaining({ reqId: failure?.reqId, status: 500, msg: 'request failed' }),
    );
  });
});
