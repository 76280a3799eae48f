import { connect } from 'node:net';
import type { EventRecord } from '@tessera/core';
import { createRandom } from '@tessera/simulator';
import { waitUntil } from '@tessera/testkit';
import { EventSource } from 'eventsource';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { changesHeartbeatMs, loadConfig } from '../src/config.js';
import { eventWithId, json, startApp } from './helpers.js';

/** Seeds the generated feed rounds; printed in the test names, CHANGES_SEED reruns one. */
const CHANGES_SEED = Number(process.env.CHANGES_SEED ?? 11);

type Running = Awaited<ReturnType<typeof startApp>>;
const running: Running[] = [];
afterEach(async () => {
  for (const app of running.splice(0)) await app.close();
});
async function start(...args: Parameters<typeof startApp>): Promise<Running> {
  const app = await startApp(...args);
  running.push(app);
  return app;
}

/** Feed rounds of a partner: new events, new values, moved starts, and events left alone. */
function createRounds(seed: number) {
  const random = createRandom(seed);
  const known: string[] = [];
  let next = 0;
  const at = (hours: number) =>
    new Date(Date.parse('2021-03-01T00:00:00Z') + hours * 3_600_000).toISOString().slice(0, 19);
  return (): EventRecord[] => {
    const records = new Map<string, EventRecord>();
    for (let i = 0; i < 12; i++) {
      const fresh = known.length === 0 || random() < 0.4;
      const eventId = fresh ? `e${next++}` : known[Math.floor(random() * known.length)]!;
      if (fresh) known.push(eventId);
      const start = Math.floor(random() * 48);
      const price = Math.floor(random() * 5) * 10;
      records.set(
        eventId,
        eventWithId(eventId, at(start), at(start + 2), { minPrice: price, maxPrice: price + 5 }),
      );
    }
    return [...records.values()];
  };
}

function apply(app: Running, feed: string, records: EventRecord[]): void {
  app.writer.applyFeed(feed, records, {
    at: Date.now(),
    validators: { urlDigest: null, etag: null, lastModified: null, hash: String(Math.random()) },
  });
}

/** The whole /search answer by event id, and the token it is consistent with. */
async function list(app: Running): Promise<{ events: Map<string, string>; token: string }> {
  const res = await app.get('/search');
  expect(res.status).toBe(200);
  const token = res.headers.get('changes-token');
  expect(token).toBeTruthy();
  const body = await json(res);
  return {
    events: new Map(body.data.events.map((e: { id: string }) => [e.id, JSON.stringify(e)])),
    token: token!,
  };
}

/** Follows /changes pages from `since` until there are none, applying each to `events`. */
async function followPages(app: Running, events: Map<string, string>, since: string, limit = 5) {
  let at = since;
  for (;;) {
    const res = await app.get(`/changes?since=${at}&limit=${limit}`);
    expect(res.status).toBe(200);
    const body = await json(res);
    for (const change of body.data.changes)
      events.set(change.event.id, JSON.stringify(change.event));
    if (body.data.changes.length === 0) {
      expect(body.data.next).toBe(at);
      return at;
    }
    expect(body.data.next).toBe(body.data.changes.at(-1).token);
    at = body.data.next;
  }
}

describe(`list /search, then follow /changes (seed ${CHANGES_SEED})`, () => {
  it('rebuilds the final /search answer from JSON pages', async () => {
    const app = await start();
    const round = createRounds(CHANGES_SEED);
    for (let i = 0; i < 3; i++) apply(app, i % 2 === 0 ? 'test' : 'other', round());
    const listed = await list(app);
    for (let i = 0; i < 6; i++) apply(app, i % 2 === 0 ? 'test' : 'other', round());
    await followPages(app, listed.events, listed.token);
    expect(listed.events).toEqual((await list(app)).events);
  });

  it('rebuilds it from a Server-Sent Events stream read by the eventsource package, live', async () => {
    const app = await start();
    const round = createRounds(CHANGES_SEED + 1);
    apply(app, 'test', round());
    const listed = await list(app);
    const source = new EventSource(`${app.base}/changes?since=${listed.token}`);
    const ids: string[] = [];
    const feeds = new Set<string>();
    source.onmessage = (message) => {
      const change = JSON.parse(message.data);
      expect(message.lastEventId).toBe(change.token);
      ids.push(change.token);
      feeds.add(change.feed);
      listed.events.set(change.event.id, JSON.stringify(change.event));
    };
    try {
      await new Promise((resolve) => source.addEventListener('open', resolve));
      for (let i = 0; i < 6; i++) {
        apply(app, i % 2 === 0 ? 'test' : 'other', round());
        await new Promise((resolve) => setTimeout(resolve, 15));
      }
      const final = (await list(app)).events;
      const sorted = (events: Map<string, string>) => JSON.stringify([...events].sort());
      await waitUntil(() => sorted(listed.events) === sorted(final), {
        timeoutMs: 10_000,
        what: 'the stream to bring every change',
      });
      expect(new Set(ids).size).toBe(ids.length);
      expect(feeds).toEqual(new Set(['test', 'other']));
    } finally {
      source.close();
    }
  });

  it('gives every page of a paged /search the token of its first page', async () => {
    const app = await start();
    const round = createRounds(CHANGES_SEED + 2);
    apply(app, 'test', round());
    const first = await app.get('/search?limit=3');
    const token = first.headers.get('changes-token');
    const nextLink = /<([^>]+)>/.exec(first.headers.get('link') ?? '')?.[1];
    expect(nextLink).toBeDefined();
    apply(app, 'test', round());
    const second = await app.get(nextLink!);
    expect(second.headers.get('changes-token')).toBe(token);
    expect((await app.get('/search?limit=3')).headers.get('changes-token')).not.toBe(token);
  });
});

describe('the change feed settings', () => {
  it('beat under a short idle timeout unless told otherwise, and refuse a beat as long as it', () => {
    expect(changesHeartbeatMs(loadConfig({}))).toBe(5_000);
    expect(changesHeartbeatMs(loadConfig({ RESPONSE_IDLE_TIMEOUT_MS: '3000' }))).toBe(1_500);
    expect(changesHeartbeatMs(loadConfig({ CHANGES_HEARTBEAT_MS: '700' }))).toBe(700);
    expect(() =>
      loadConfig({ RESPONSE_IDLE_TIMEOUT_MS: '3000', CHANGES_HEARTBEAT_MS: '3000' }),
    ).toThrow(/CHANGES_HEARTBEAT_MS/);
  });
});

describe('/changes', () => {
  it('answers a long-poll as soon as a write lands, and an empty page when none does', async () => {
    const app = await start();
    apply(app, 'test', createRounds(1)());
    const { token } = await list(app);
    const started = Date.now();
    const empty = await json(await app.get(`/changes?since=${token}&wait=1`));
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(empty.data).toEqual({ changes: [], next: token });

    const waiting = app.get(`/changes?since=${token}&wait=30`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const written = Date.now();
    apply(app, 'test', [eventWithId('late', '2021-05-01T10:00:00', '2021-05-01T12:00:00')]);
    const body = await json(await waiting);
    expect(Date.now() - written).toBeLessThan(5_000);
    expect(body.data.changes.map((c: { event: { title: string } }) => c.event.title)).toEqual([
      'event 2021-05-01T10:00:00',
    ]);
  });

  it('leaves streams and long-polls out of the slow-request log, which they are by design', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const app = await start({ log, slowRequestMs: 1 });
    const { token } = await list(app);
    await app.get(`/changes?since=${token}&wait=1`);
    const controller = new AbortController();
    const res = await app.get(`/changes?since=${token}`, {
      headers: { accept: 'text/event-stream' },
      signal: controller.signal,
    });
    await res.body!.getReader().read();
    controller.abort();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await app.get(`/changes?since=${token}`);
    const slow = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'slow request');
    expect(slow.every((l) => !String(l.path).startsWith('/changes') || l.ms < 1_000)).toBe(true);
    expect(slow.filter((l) => l.path === '/changes').length).toBeLessThanOrEqual(1);
  });

  it('resumes a stream from Last-Event-ID, which wins over since', async () => {
    const app = await start();
    apply(app, 'test', createRounds(2)());
    const { token } = await list(app);
    apply(app, 'test', [eventWithId('a', '2021-05-01T10:00:00', '2021-05-01T12:00:00')]);
    apply(app, 'test', [eventWithId('b', '2021-05-02T10:00:00', '2021-05-02T12:00:00')]);
    const pages = await json(await app.get(`/changes?since=${token}`));
    const [a, b] = pages.data.changes;
    const controller = new AbortController();
    const res = await app.get(`/changes?since=${token}`, {
      headers: { accept: 'text/event-stream', 'last-event-id': a.token },
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('\n\nid: ') || !text.endsWith('\n\n')) {
      text += new TextDecoder().decode((await reader.read()).value);
    }
    controller.abort();
    expect(text).toBe(`retry: 1000\n\nid: ${b.token}\ndata: ${JSON.stringify(b)}\n\n`);
  });

  it.each([
    ['', 'since is required'],
    ['?since=', 'since is empty'],
    ['?since=AAAA', 'not a change token'],
    ['?since=x&since=y', 'at most once'],
    ['?since=x&limit=0', 'limit must be an integer from 1 to 10000'],
    ['?since=x&wait=61', 'wait must be an integer from 0 to 60'],
  ])('refuses %s with 400 invalid_parameter', async (query, message) => {
    const app = await start();
    const res = await app.get(`/changes${query}`);
    expect(res.status).toBe(400);
    const body = await json(res);
    expect(body).toMatchObject({ data: null, error: { code: 'invalid_parameter' } });
    expect(body.error.message).toContain(message);
  });

  it('refuses a token altered by one character, or of another store, with 400', async () => {
    const app = await start();
    const other = await start();
    const { token } = await list(app);
    const altered = `${token.slice(0, 5)}${token[5] === 'A' ? 'B' : 'A'}${token.slice(6)}`;
    for (const bad of [altered, (await list(other)).token, token.slice(0, -1)]) {
      const res = await app.get(`/changes?since=${bad}`);
      expect(res.status, bad).toBe(400);
    }
    expect((await app.get(`/changes?since=${token}`)).status).toBe(200);
  });

  it('answers 410 changes_expired to a token older than the retention, on both forms', async () => {
    const app = await start({}, {}, { changeRetention: { changes: 5 } });
    const { token } = await list(app);
    const round = createRounds(3);
    apply(app, 'test', round());
    apply(app, 'test', round());
    for (const accept of ['application/json', 'text/event-stream']) {
      const res = await app.get(`/changes?since=${token}`, { headers: { accept } });
      expect(res.status).toBe(410);
      expect(await json(res)).toMatchObject({ error: { code: 'changes_expired' }, data: null });
    }
  });

  it('bounds its subscribers per process with 503 overloaded, and counts them in /metrics', async () => {
    const app2 = await start({ changeLimits: { maxSubscribers: 2 } });
    const { token } = await list(app2);
    const streams = [new AbortController(), new AbortController()];
    try {
      for (const controller of streams) {
        const res = await app2.get(`/changes?since=${token}`, {
          headers: { accept: 'text/event-stream' },
          signal: controller.signal,
        });
        expect(res.status).toBe(200);
      }
      const third = await app2.get(`/changes?since=${token}`, {
        headers: { accept: 'text/event-stream' },
      });
      expect(third.status).toBe(503);
      expect(third.headers.get('retry-after')).toBe('1');
      expect(await json(third)).toMatchObject({ error: { code: 'overloaded' } });
      const metrics = await (await app2.get('/metrics')).text();
      expect(metrics).toMatch(/^tessera_change_subscribers 2$/m);
    } finally {
      for (const controller of streams) controller.abort();
    }
  });

  it('cuts off a stream whose client stops reading', async () => {
    const app = await start({ changeLimits: { bufferBytes: 64 * 1024 } });
    const { token } = await list(app);
    // Far more than the socket buffers hold: about 8 MB of changes.
    for (let batch = 0; batch < 10; batch++) {
      const records = Array.from({ length: 2_000 }, (_, i) =>
        eventWithId(`bulk-${batch}-${i}`, '2021-06-01T10:00:00', '2021-06-01T12:00:00', {
          title: `bulk ${'x'.repeat(300)}`,
        }),
      );
      apply(app, 'test', records);
    }
    const socket = connect(app.port, '127.0.0.1');
    socket.write(
      `GET /changes?since=${token} HTTP/1.1\r\nHost: a\r\nAccept: text/event-stream\r\n\r\n`,
    );
    socket.pause();
    try {
      await waitUntil(
        async () =>
          /^tessera_change_subscribers_cut_off_total 1$/m.test(
            await (await app.get('/metrics')).text(),
          ),
        { timeoutMs: 15_000, what: 'the stream that is not read to be cut off' },
      );
    } finally {
      socket.destroy();
    }
  });
});
