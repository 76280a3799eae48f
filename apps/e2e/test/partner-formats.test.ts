import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventIdFor } from '@tessera/core';
import { PARTNER_EXAMPLES, type PartnerExample } from '@tessera/fixtures';
import {
  freePort,
  getJson,
  type Nginx,
  type RunningProcess,
  startApp,
  startNginx,
  waitUntil,
} from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Partners in their own formats, end to end with the built processes: nginx (a web server this
 * project did not write) serves the JSON and the XML examples gzipped; the ingestor polls both
 * through their mappings (one inline in FEEDS, one from a file); the API serves exactly the
 * events written out by hand in @tessera/fixtures, on /search and /events/{id}.
 */
const { tm, xs } = PARTNER_EXAMPLES;
const running: RunningProcess[] = [];
let nginx: Nginx;
let dataDir: string;
let base: string;

beforeAll(async () => {
  nginx = await startNginx({
    server: `location /p/ {
      types { application/json json; application/xml xml; }
      gzip on; gzip_min_length 0; gzip_types application/json application/xml;
    }`,
  });
  const served = join(nginx.root, 'p');
  mkdirSync(served);
  copyFileSync(tm.documentPath, join(served, 'events.json'));
  copyFileSync(xs.documentPath, join(served, 'shows.xml'));
  dataDir = mkdtempSync(join(tmpdir(), 'tessera-partners.'));
  const feeds = [
    {
      id: tm.feed,
      url: `${nginx.origin}/p/events.json`,
      timezone: tm.timeZone,
      format: tm.mapping,
    },
    {
      id: xs.feed,
      url: `${nginx.origin}/p/shows.xml`,
      timezone: xs.timeZone,
      format: `@${xs.mappingPath}`,
    },
  ];
  running.push(
    startApp('ingestor', { DATA_DIR: dataDir, FEEDS: JSON.stringify(feeds), INGEST_NICE: '0' }),
  );
  const port = await freePort();
  running.push(
    startApp('api', { DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', API_WORKERS: '1' }),
  );
  base = `http://127.0.0.1:${port}`;
  await waitUntil(() => getJson(`${base}/health`), { what: 'the API' });
});

afterAll(async () => {
  for (const p of running.splice(0)) await p.stop();
  await nginx?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const summaries = (example: PartnerExample) =>
  example.events.map(({ baseId, eventId, startsAt: _s, endsAt: _e, ...fields }) => ({
    id: eventIdFor(example.feed, baseId, eventId),
    ...fields,
  }));

describe('partners in their own formats, through nginx', () => {
  it('/search serves exactly the events written out by hand, of both partners, in start order', async () => {
    const expected = [
      ...tm.events.map((e) => ({ e, x: tm })),
      ...xs.events.map((e) => ({ e, x: xs })),
    ]
      .sort((a, b) => a.e.startsAt - b.e.startsAt)
      .map(({ e, x }) =>
        summaries(x).find((s) => s.id === eventIdFor(x.feed, e.baseId, e.eventId)),
      );
    const events = await waitUntil(
      async () => {
        const body = await getJson<{ data: { events: unknown[] } }>(`${base}/search`);
        return body && body.data.events.length === expected.length ? body.data.events : undefined;
      },
      { what: 'both partners applied', timeoutMs: 30_000 },
    );
    expect(events).toEqual(expected);
  });

  it('/events/{id} serves each of them', async () => {
    for (const summary of [...summaries(tm), ...summaries(xs)]) {
      const body = await getJson<{ data: { event: unknown } }>(`${base}/events/${summary.id}`);
      expect(body?.data.event).toEqual(summary);
    }
  });

  it('/feeds shows both applied, and nginx did send them gzipped', async () => {
    const body = await getJson<{
      data: { feeds: Array<{ id: string; last_error_code: string | null; events: number }> };
    }>(`${base}/feeds`);
    const byId = Object.fromEntries(body!.data.feeds.map((f) => [f.id, f]));
    expect(byId.tm).toMatchObject({ last_error_code: null, events: tm.events.length });
    expect(byId.xs).toMatchObject({ last_error_code: null, events: xs.events.length });
    for (const path of ['events.json', 'shows.xml']) {
      const res = await fetch(`${nginx.origin}/p/${path}`, {
        headers: { 'accept-encoding': 'gzip' },
      });
      expect(res.headers.get('content-encoding')).toBe('gzip');
    }
  });
});
