import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { processIdentity } from '@tessera/runtime';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { event, fill, json, startApp } from './helpers.js';

type Running = Awaited<ReturnType<typeof startApp>>;
let api: Running;
const NOW = Date.parse('2026-01-01T12:00:00Z');

beforeEach(async () => {
  api = await startApp({ now: () => NOW, staleAfterMs: 60_000 });
});
afterEach(async () => {
  await api.close();
});

describe('errors', () => {
  it('answers 404 with the envelope for an unknown path', async () => {
    const res = await api.get('/nope');
    expect(res.status).toBe(404);
    expect(await json(res)).toEqual({
      error: { code: 'not_found', message: 'no such resource: /nope' },
      data: null,
    });
  });

  it('answers 405 with the envelope and Allow for a wrong method', async () => {
    const res = await api.get('/search', { method: 'POST' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toContain('GET');
    expect(await json(res)).toEqual({
      error: { code: 'method_not_allowed', message: 'POST is not allowed on /search' },
      data: null,
    });
  });

  it('answers 500 without internals when the store fails', async () => {
    const broken = await startApp();
    broken.reader.runs = () => {
      throw new Error('secret internal detail at /var/lib/x');
    };
    const res = await broken.get('/search');
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({
      error: { code: 'internal_error', message: 'internal error' },
      data: null,
    });
    expect(text).not.toContain('secret');
    expect(text).not.toContain('at ');
    await broken.close();
  });
});

describe('operations', () => {
  it('logs a /ready refusal once per change of readiness, never once per probe', async () => {
    const lines: Array<{ level: number; msg: string }> = [];
    const sink = new Writable({
      write(chunk, _, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const logged = await startApp({ log: pino({ level: 'info' }, sink), now: () => NOW });
    try {
      for (let i = 0; i < 5; i++) expect((await logged.get('/ready')).status).toBe(503);
      logged.writer.recordPoll('test', {
        ok: false,
        at: NOW - 1,
        code: 'provider_timeout',
        message: 't',
      });
      for (let i = 0; i < 5; i++) expect((await logged.get('/ready')).status).toBe(503);
      fill(logged.writer, [event('2021-01-01T10:00:00', '2021-01-01T11:00:00')], NOW);
      for (let i = 0; i < 5; i++) expect((await logged.get('/ready')).status).toBe(200);
      expect(lines.map((l) => l.msg)).toEqual([
        'not ready: no feed has been applied to the store yet: the first poll has not ended yet',
        "not ready: no feed has been applied to the store yet: the partner's last poll failed with provider_timeout (t), 1 consecutive failures since 2026-01-01T11:59:59.999Z",
        'ready',
      ]);
      expect(lines.every((l) => l.level < 50)).toBe(true);
    } finally {
      await logged.close();
    }
  });

  it('GET /health is live', async () => {
    const res = await api.get('/health');
    expect(res.status).toBe(200);
    expect((await json(res)).data.status).toBe('ok');
  });

  it('GET /ready answers 503 not_ready until a feed was applied, then reports freshness', async () => {
    let res = await api.get('/ready');
    expect(res.status).toBe(503);
    expect(await json(res)).toEqual({
      error: {
        code: 'not_ready',
        message: 'no feed has been applied to the store yet: the first poll has not ended yet',
      },
      data: null,
    });
    // A failing partner does not make it ready: nothing was ever applied. The refusal says why.
    api.writer.recordPoll('test', {
      ok: false,
      at: NOW - 9000,
      code: 'provider_status',
      message: '503',
    });
    api.writer.recordPoll('test', {
      ok: false,
      at: NOW - 5000,
      code: 'provider_status',
      message: '503',
    });
    res = await api.get('/ready');
    expect(res.status).toBe(503);
    expect((await json(res)).error.message).toBe(
      "no feed has been applied to the store yet: the partner's last poll failed with provider_status (503), 2 consecutive failures since 2026-01-01T11:59:51.000Z",
    );
    fill(api.writer, [event('2021-01-01T10:00:00', '2021-01-01T11:00:00')], NOW - 30_000);
    api.writer.recordPoll('test', {
      ok: false,
      at: NOW - 1000,
      code: 'provider_status',
      message: '503',
    });
    res = await api.get('/ready');
    expect(res.status).toBe(200);
    expect((await json(res)).data).toMatchObject({
      status: 'ready',
      events: 1,
      fresh: true,
      age_seconds: 30,
      consecutive_failures: 1,
      last_error_code: 'provider_status',
      last_success_at: new Date(NOW - 30_000).toISOString(),
    });
  });

  it('GET /ready stays ready with stale data: a partner outage keeps the API in service', async () => {
    fill(api.writer, [event('2021-01-01T10:00:00', '2021-01-01T11:00:00')], NOW - 3_600_000);
    for (let i = 1; i <= 3; i++) {
      api.writer.recordPoll('test', {
        ok: false,
        at: NOW - i,
        code: 'provider_unreachable',
        message: 'down',
      });
    }
    const res = await api.get('/ready');
    expect(res.status).toBe(200);
    expect((await json(res)).data).toMatchObject({
      status: 'ready',
      fresh: false,
      age_seconds: 3600,
      consecutive_failures: 3,
    });
  });

  it('GET /ready and /metrics show the state digest; a node found diverged answers 503 state_diverged', async () => {
    fill(api.writer, [event('2021-01-01T10:00:00', '2021-01-01T11:00:00')], NOW - 1000);
    const digest = api.writer.digest();
    expect(digest).toMatch(/^[\w-]{22}$/);
    expect((await json(await api.get('/ready'))).data).toMatchObject({ state_digest: digest });
    expect(await (await api.get('/metrics')).text()).toContain(
      `tessera_state_digest_info{digest="${digest}"} 1`,
    );
    const status = {
      nodeId: 'n1',
      role: 'follower' as const,
      leading: [],
      leadingUntil: {},
      writer: null,
      connected: true,
      appliedSequence: 9,
      latestSequence: 9,
      behindSince: null,
      configDiffers: [],
      updatedAt: NOW,
    };
    api.writeReplicationStatus({
      ...status,
      diverged: { since: NOW - 500, message: 'after sequence 9 this store differs' },
    });
    const res = await api.get('/ready');
    expect(res.status).toBe(503);
    expect((await json(res)).error).toEqual({
      code: 'state_diverged',
      message:
        "this node's content differs from the cluster's and is being re-synced: after sequence 9 this store differs",
    });
    const diverged = await (await api.get('/metrics')).text();
    expect(diverged).toContain('tessera_state_diverged 1');
    expect(diverged).toContain('tessera_ready 0');
    api.writeReplicationStatus({ ...status, diverged: null });
    expect((await api.get('/ready')).status).toBe(200);
    const resynced = await (await api.get('/metrics')).text();
    expect(resynced).toContain('tessera_state_diverged 0');
    expect(resynced).toContain('tessera_ready 1');
  });

  it('GET /ready and /metrics name the nodes running another feed configuration, and the node stays ready', async () => {
    fill(api.writer, [event('2021-01-01T10:00:00', '2021-01-01T11:00:00')], NOW - 1000);
    const status = {
      nodeId: 'n1',
      role: 'leader' as const,
      leading: ['a'],
      leadingUntil: {},
      writer: null,
      connected: true,
      appliedSequence: 9,
      latestSequence: 9,
      behindSince: null,
      diverged: null,
      updatedAt: NOW,
    };
    api.writeReplicationStatus({ ...status, configDiffers: ['n2', 'n3'] });
    const res = await api.get('/ready');
    expect(res.status).toBe(200);
    expect((await json(res)).data.config_differs_on).toEqual(['n2', 'n3']);
    expect(await (await api.get('/metrics')).text()).toContain(
      'tessera_cluster_config_differing_nodes 2',
    );
    // A status written before this field existed reads as "all agree".
    api.writeReplicationStatus(status as never);
    expect((await json(await api.get('/ready'))).data.config_differs_on).toEqual([]);
  });

  it('GET /ready claims a lease only while its cover lasts, and none of a status whose writer has exited', async () => {
    fill(api.writer, [event('2021-01-01T10:00:00', '2021-01-01T11:00:00')], NOW - 1000);
    const status = {
      nodeId: 'n1',
      role: 'leader' as const,
      leading: ['a', 'b', 'c'],
      // b's cover ended a moment ago; c's status predates the field and is taken at its word.
      leadingUntil: { a: NOW + 1_000, b: NOW - 1 },
      writer: processIdentity(),
      connected: true,
      appliedSequence: 9,
      latestSequence: 9,
      behindSince: null,
      diverged: null,
      configDiffers: [],
      updatedAt: NOW,
    };
    api.writeReplicationStatus(status);
    expect((await json(await api.get('/ready'))).data).toMatchObject({
      role: 'leader',
      leading_feeds: ['a', 'c'],
      replication: 'connected',
    });
    // Every configured feed has a series on every node, so that one no node leads sums to 0.
    api.writer.configureFeeds(
      ['test', 'a', 'b', 'c', 'd'].map((id) => ({ id, url: `http://p/${id}` })),
    );
    const leaders = await (await api.get('/metrics')).text();
    for (const [feed, led] of Object.entries({ test: 0, a: 1, b: 0, c: 1, d: 0 })) {
      expect(leaders).toContain(`tessera_feed_leader{feed="${feed}"} ${led}`);
    }
    // Written by a process that has exited since: its last word, not the current ingestor's.
    const exited = spawnSync('true');
    api.writeReplicationStatus({ ...status, writer: { pid: exited.pid!, startTicks: 1 } });
    expect((await json(await api.get('/ready'))).data).toMatchObject({
      role: 'follower',
      leading_feeds: [],
      replication: 'stale',
    });
  });

  it('GET /metrics exposes requests, latency, events and freshness', async () => {
    fill(api.writer, [event('2021-01-01T10:00:00', '2021-01-01T11:00:00')], NOW);
    await api.get('/search');
    await api.get('/search?starts_at=bad');
    const res = await api.get('/metrics');
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toMatch(/http_requests_total\{route="\/search",status="200"\} 1/);
    expect(text).toMatch(/http_requests_total\{route="\/search",status="400"\} 1/);
    expect(text).toContain('http_request_duration_seconds_bucket');
    expect(text).toMatch(/tessera_events_stored 1/);
    expect(text).toMatch(/tessera_store_blocks_current 1/);
    expect(text).toContain(
      `tessera_last_ingest_success_timestamp_seconds{feed="test"} ${NOW / 1000}`,
    );
    expect(text).toContain('tessera_ready 1');
    // A single node leads no feed: no leader series to alert on.
    expect(text).not.toContain('tessera_feed_leader{');
  });

  it('GET /metrics reads the feeds and the replication status once per scrape, whatever the gauges using them', async () => {
    const reads = { feeds: 0, replication: 0 };
    const counted = await startApp({
      now: () => NOW,
      staleAfterMs: 60_000,
      replication: () => {
        reads.replication++;
        return null;
      },
    });
    try {
      fill(counted.writer, [event('2021-01-01T10:00:00', '2021-01-01T11:00:00')], NOW);
      const { feeds } = counted.reader;
      counted.reader.feeds = () => {
        reads.feeds++;
        return feeds.call(counted.reader);
      };
      for (const scrape of [1, 2]) {
        const text = await (await counted.get('/metrics')).text();
        expect(text).toContain('tessera_feed_events{feed="test"} 1');
        expect(text).toContain('tessera_replication_role{role="single"} 1');
        expect(reads).toEqual({ feeds: scrape, replication: scrape });
      }
    } finally {
      await counted.close();
    }
  });

  it('GET /openapi.json serves the contract', async () => {
    const spec = await json(await api.get('/openapi.json'));
    expect(spec.paths['/search'].get.operationId).toBe('searchEvents');
    expect(spec.components.schemas.EventSummary.required).toHaveLength(8);
  });

  it('GET /docs serves a readable page and its assets from installed packages', async () => {
    const page = await api.get('/docs');
    expect(page.headers.get('content-type')).toContain('text/html');
    const html = await page.text();
    expect(html).toContain('/docs/swagger-ui-bundle.js');
    expect(html).not.toMatch(/https?:\/\//);
    const bundle = await api.get('/docs/swagger-ui-bundle.js');
    expect(bundle.status).toBe(200);
    expect((await bundle.text()).length).toBeGreaterThan(100_000);
    expect((await api.get('/docs/init.js')).status).toBe(200);
    expect((await api.get('/docs/nope.js')).status).toBe(404);
  });
});
