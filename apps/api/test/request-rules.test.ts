import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { event, fill, json, startApp } from './helpers.js';

type Running = Awaited<ReturnType<typeof startApp>>;
let api: Running;

beforeAll(async () => {
  api = await startApp();
  fill(api.writer, [event('2021-01-01T10:00:00', '2021-01-01T11:00:00')], 1);
});
afterAll(async () => {
  await api.close();
});

/** One raw HTTP/1.1 exchange, for what fetch will not send (a second Host header). */
function rawExchange(port: number, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(head));
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
    });
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

describe('nothing dropped', () => {
  it('reads a parameter given after a thousand others (no silent maxKeys cut)', async () => {
    const res = await api.get(`/search?${'x=1&'.repeat(1_000)}starts_at=garbage`);
    expect(res.status).toBe(400);
    expect((await json(res)).error.code).toBe('invalid_parameter');
    const ok = await api.get(`/search?${'x=1&'.repeat(1_000)}starts_at=2030-01-01`);
    expect((await json(ok)).data.events).toEqual([]);
  });

  it('accepts RFC 3339 fractions of more than nine digits', async () => {
    const res = await api.get('/search?starts_at=2021-01-01T00:00:00.1234567891Z');
    expect(res.status).toBe(200);
    expect((await json(res)).data.events).toHaveLength(1);
  });
});

describe('one rule for methods, on every path', () => {
  it.each(['/search', '/health', '/ready', '/metrics', '/openapi.json', '/docs', '/events/x'])(
    'OPTIONS %s is 204 with Allow; DELETE is 405 with the same Allow',
    async (path) => {
      const options = await api.get(path, { method: 'OPTIONS' });
      expect(options.status).toBe(204);
      expect(options.headers.get('allow')).toBe('HEAD, GET, OPTIONS');
      expect(await options.text()).toBe('');
      const del = await api.get(path, { method: 'DELETE' });
      expect(del.status).toBe(405);
      expect(del.headers.get('allow')).toBe('HEAD, GET, OPTIONS');
      expect((await json(del)).error.code).toBe('method_not_allowed');
    },
  );

  it.each(['TRACE', 'GET', 'OPTIONS', 'POST'])(
    '%s on an unknown path is 404, without Allow',
    async (method) => {
      const answer = await rawExchange(
        api.port,
        `${method} /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      );
      expect(answer).toMatch(/^HTTP\/1\.1 404 /);
      expect(answer.toLowerCase()).not.toContain('\r\nallow:');
    },
  );
});

describe('HTTP framing', () => {
  it('refuses a request with two Host headers (RFC 9112 §3.2) with the envelope', async () => {
    const answer = await rawExchange(
      api.port,
      'GET /search HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
    expect(body).toEqual({
      error: { code: 'bad_request', message: 'the request has more than one Host header' },
      data: null,
    });
  });
});
