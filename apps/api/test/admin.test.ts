import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStoreReader, openStoreWriter } from '@tessera/store';
import { afterEach, describe, expect, it } from 'vitest';
import { createAdminApp } from '../src/admin-app.js';
import { loadConfig, serverTimeouts } from '../src/config.js';
import { createMetrics } from '../src/metrics.js';
import { startServer } from '../src/server.js';
import { event, fill, json, silent, startApp } from './helpers.js';

const TOKEN = 'an-admin-token-of-some-length';
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/**
 * The admin port over a real store; no ingestor listens on the control socket, so an action
 * that gets through authentication reaches no one (the e2e suite runs the real ingestor).
 */
async function startAdmin(token: string | undefined) {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-admin-'));
  const writer = openStoreWriter({ path: dir });
  const store = openStoreReader({ path: dir });
  const metrics = createMetrics(store, { maxLagMs: 30_000, staleAfterMs: 60_000 });
  const app = createAdminApp({
    store,
    log: silent,
    metrics,
    renderMetrics: () => metrics.registry.metrics(),
    dataDir: dir,
    token,
    staleAfterMs: 60_000,
  });
  const running = await startServer(app, 0, '127.0.0.1', serverTimeouts(loadConfig({})));
  closers.push(async () => {
    await running.close(0);
    await store.close();
    await writer.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const base = `http://127.0.0.1:${running.port}`;
  return {
    writer,
    get: (path: string) => fetch(`${base}${path}`),
    post: (path: string, headers: Record<string, string> = {}) =>
      fetch(`${base}${path}`, { method: 'POST', headers }),
  };
}

describe('the admin port', () => {
  it('serves /metrics and /feeds', async () => {
    const admin = await startAdmin(undefined);
    fill(admin.writer, [event('2021-01-01T10:00:00', '2021-01-01T11:00:00')]);
    expect(await (await admin.get('/metrics')).text()).toContain('tessera_events_stored 1');
    const feeds = await json(await admin.get('/feeds'));
    expect(feeds.data.feeds.map((f: { id: string; paused: boolean }) => [f.id, f.paused])).toEqual([
      ['test', false],
    ]);
  });

  it('refuses an action without the token, or with another, with 401 and the envelope', async () => {
    const admin = await startAdmin(TOKEN);
    for (const authorization of [
      undefined,
      'Bearer wrong-token-of-some-length',
      TOKEN,
      `Basic ${TOKEN}`,
      `Bearer ${TOKEN}x`,
    ]) {
      const res = await admin.post(
        '/feeds/test/pause',
        authorization === undefined ? {} : { authorization },
      );
      expect(res.status, String(authorization)).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="tessera-admin"');
      expect((await json(res)).error.code).toBe('unauthorized');
    }
  });

  it('carries an authenticated action to the ingestor, and says when none answers', async () => {
    const admin = await startAdmin(TOKEN);
    const res = await admin.post('/feeds/test/poll', { authorization: `Bearer ${TOKEN}` });
    expect(res.status).toBe(503);
    expect((await json(res)).error).toMatchObject({
      code: 'ingestor_unavailable',
      message: expect.stringContaining('not running'),
    });
  });

  it('has no actions without ADMIN_TOKEN, and no others than poll, pause and resume', async () => {
    const off = await startAdmin(undefined);
    const res = await off.post('/feeds/test/pause', { authorization: `Bearer ${TOKEN}` });
    expect(res.status).toBe(404);
    expect((await json(res)).error.message).toContain('ADMIN_TOKEN is not set');
    const on = await startAdmin(TOKEN);
    expect((await on.post('/feeds/test/delete', { authorization: `Bearer ${TOKEN}` })).status).toBe(
      404,
    );
    expect((await on.get('/feeds/test/pause')).status).toBe(405);
  });
});

describe('the public port with an admin port beside it', () => {
  it('no longer serves /metrics and /feeds', async () => {
    const api = await startApp({ operatorPathsElsewhere: true });
    closers.push(api.close);
    expect((await api.get('/metrics')).status).toBe(404);
    expect((await api.get('/feeds')).status).toBe(404);
    expect((await api.get('/health')).status).toBe(200);
  });
});
