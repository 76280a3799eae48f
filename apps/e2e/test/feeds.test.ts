import {
  linkSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRandom, generateFeed } from '@tessera/simulator';
import {
  freePort,
  getJson,
  type Nginx,
  type RunningProcess,
  startApp,
  startNginx,
  waitUntil,
} from '@tessera/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

/**
 * Several partners in one deployment, with the built processes: each feed on its own (a quick
 * one keeps landing while another drips for a minute, a failing one blocks nobody), the same
 * document as two feeds, a deployment from before FEEDS, and kill -9 during an apply while
 * another feed is being received. The partners are nginx serving generated documents (a web
 * server this project did not write; `limit_rate` makes the slow ones), and the truth is one
 * `--once` ingest of each feed alone.
 */
const SEED = Number(process.env.FEEDS_SEED ?? 1);
const running: RunningProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const p of running.splice(0)) await p.stop();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-feeds.'));
  dirs.push(dir);
  return dir;
};
const track = (p: RunningProcess): RunningProcess => {
  running.push(p);
  return p;
};

/** Locations: plain files, and the same files sent slowly (nginx's limit_rate, per connection). */
const LOCATIONS = { static: '', drip: 'limit_rate 500;', trickle: 'limit_rate 4000;' } as const;
let nginx: Nginx;
beforeAll(async () => {
  nginx = await startNginx({
    server: Object.entries(LOCATIONS)
      .map(([name, directives]) => `location /${name}/ { ${directives} }`)
      .join('\n    '),
  });
  for (const name of Object.keys(LOCATIONS)) mkdirSync(join(nginx.root, name));
});
afterAll(async () => {
  await nginx?.stop();
});

/** Each document written gets a later modification time, so that nginx's validators change. */
let clock = Date.parse('2026-01-01T00:00:00Z');

/**
 * Serves a generated document as `name` in every location (written aside, then renamed: a
 * partner's answer is always whole); returns its URL in `location`.
 */
function serve(
  name: string,
  bases: number,
  seed: number,
  location: keyof typeof LOCATIONS = 'static',
): string {
  const file = join(nginx.root, 'static', name);
  const bytes = Buffer.concat([
    ...generateFeed({ bases, eventsPerBase: 2, zonesPerEvent: 3, seed, onlineRatio: 1 }),
  ]);
  writeFileSync(`${file}.tmp`, bytes);
  clock += 1_000;
  utimesSync(`${file}.tmp`, clock / 1000, clock / 1000);
  renameSync(`${file}.tmp`, file);
  for (const other of Object.keys(LOCATIONS).filter((l) => l !== 'static')) {
    rmSync(join(nginx.root, other, name), { force: true });
    linkSync(file, join(nginx.root, other, name));
  }
  return urlOf(name, location);
}
const urlOf = (name: string, location: keyof typeof LOCATIONS) =>
  `${nginx.origin}/${location}/${name}`;

interface FeedEntry {
  id: string;
  url: string;
  poll_interval_ms?: number;
}

const ingestorEnv = (dataDir: string, feeds: FeedEntry[]) => ({
  DATA_DIR: dataDir,
  FEEDS: JSON.stringify(feeds),
  BACKOFF_BASE_MS: '100',
  BACKOFF_MAX_MS: '500',
  INGEST_NICE: '0',
  LOG_LEVEL: 'info',
});

async function api(dataDir: string): Promise<string> {
  const port = await freePort();
  track(
    startApp('api', { DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', API_WORKERS: '1' }),
  );
  const base = `http://127.0.0.1:${port}`;
  await waitUntil(() => getJson(`${base}/health`), { what: 'the API' });
  return base;
}

/** The ids one feed alone gives: `--once` of it into a store of its own, then its /search. */
async function reference(feed: FeedEntry): Promise<Set<string>> {
  const dir = tempDir();
  const once = track(startApp('ingestor', ingestorEnv(dir, [feed]), ['--once']));
  expect(await once.exited, once.output()).toBe(0);
  return new Set((await search(await api(dir))).map((e) => e.id));
}

async function search(base: string): Promise<Array<{ id: string }>> {
  const body = (await getJson<{ data: { events: Array<{ id: string }> } }>(`${base}/search`))!;
  return body.data.events;
}

interface FeedInfo {
  id: string;
  configured: boolean;
  events: number;
  consecutive_failures: number;
  last_error_code: string | null;
  last_success_at: string | null;
  runs: Array<{ outcome: string }>;
}
async function feedsOf(base: string): Promise<Record<string, FeedInfo>> {
  const body = (await getJson<{ data: { feeds: FeedInfo[] } }>(`${base}/feeds`))!;
  return Object.fromEntries(body.data.feeds.map((f) => [f.id, f]));
}

describe(`several feeds (FEEDS_SEED=${SEED})`, () => {
  it('a quick feed keeps landing while another drips for a minute; a failing one blocks nobody', async () => {
    // The quick partner answers a new document every 400 ms.
    let round = 0;
    const quick = { id: 'quick', url: serve('quick.xml', 10, SEED), poll_interval_ms: 300 };
    const rewriting = setInterval(() => serve('quick.xml', 10, SEED + ++round), 400);
    // About 30 KB at 500 bytes a second: a minute of arriving.
    const slow = {
      id: 'slow',
      url: serve('slow.xml', 25, SEED, 'drip'),
      poll_interval_ms: 600_000,
    };
    const failing = { id: 'failing', url: `http://127.0.0.1:${await freePort()}/api/events` };
    const dataDir = tempDir();
    const started = Date.now();
    track(
      startApp('ingestor', {
        ...ingestorEnv(dataDir, [quick, slow, failing]),
        BODY_IDLE_TIMEOUT_MS: '5000',
      }),
    );
    const base = await api(dataDir);

    // Three answers of the quick feed land (its first and its next two) while the slow one arrives.
    await waitUntil(
      async () =>
        ((await feedsOf(base)).quick?.runs.filter((r) => r.outcome === 'applied').length ?? 0) >= 3,
      { what: 'three applied polls of the quick feed', timeoutMs: 30_000 },
    );
    const meanwhile = await feedsOf(base);
    expect(meanwhile.slow?.last_success_at ?? null).toBeNull();
    expect(Date.now() - started).toBeLessThan(40_000);
    expect(meanwhile.failing?.consecutive_failures).toBeGreaterThan(0);
    const ready = (await getJson<{
      data: { failing_feeds: Array<{ id: string }>; stale_feeds: string[] };
    }>(`${base}/ready`))!;
    expect(ready.data.failing_feeds.map((f) => f.id)).toContain('failing');
    expect(ready.data.stale_feeds).toEqual(expect.arrayContaining(['slow', 'failing']));

    // The slow feed lands once it is whole.
    await waitUntil(async () => (await feedsOf(base)).slow?.last_success_at != null, {
      what: 'the slow feed applied',
      timeoutMs: 120_000,
    });
    clearInterval(rewriting);
    const slowIds = await reference({ ...slow, url: urlOf('slow.xml', 'static') });
    const all = new Set((await search(base)).map((e) => e.id));
    for (const id of slowIds) expect(all.has(id)).toBe(true);
    const feeds = await feedsOf(base);
    expect(feeds.slow?.events).toBe(slowIds.size);
    expect(feeds.quick?.events).toBeGreaterThan(0);
    expect(all.size).toBe((feeds.quick?.events ?? 0) + (feeds.slow?.events ?? 0));
    expect(feeds.failing).toMatchObject({
      configured: true,
      events: 0,
      last_error_code: 'provider_unreachable',
    });
    expect(feeds.failing?.runs.every((r) => r.outcome === 'failed')).toBe(true);
  }, 180_000);

  it('the same document served as two feeds gives twice the events, under distinct ids', async () => {
    const url = serve('same.xml', 40, SEED);
    const dataDir = tempDir();
    const once = track(
      startApp(
        'ingestor',
        ingestorEnv(dataDir, [
          { id: 'one', url },
          { id: 'two', url },
        ]),
        ['--once'],
      ),
    );
    expect(await once.exited, once.output()).toBe(0);
    expect(once.stdout()).toMatch(/^one: applied: .*\ntwo: applied: .*\n$/);
    const alone = await reference({ id: 'one', url });
    const both = (await search(await api(dataDir))).map((e) => e.id);
    expect(both).toHaveLength(2 * alone.size);
    expect(new Set(both).size).toBe(both.length);
  });

  it('a deployment configured with PROVIDER_URL reads the same ids as before under FEEDS', async () => {
    const url = serve('before.xml', 30, SEED);
    const dataDir = tempDir();
    const old = track(
      startApp(
        'ingestor',
        { DATA_DIR: dataDir, PROVIDER_URL: url, INGEST_NICE: '0', LOG_LEVEL: 'silent' },
        ['--once', '--json'],
      ),
    );
    expect(await old.exited).toBe(0);
    const inserted = JSON.parse(old.stdout()).counts.inserted as number;
    // The same partner as the feed `feverup` (PROVIDER_ID's default): every event unchanged.
    const now = track(
      startApp(
        'ingestor',
        { ...ingestorEnv(dataDir, [{ id: 'feverup', url }]), LOG_LEVEL: 'silent' },
        ['--once', '--json'],
      ),
    );
    expect(await now.exited).toBe(0);
    const [report] = JSON.parse(now.stdout()) as Array<{
      feed: string;
      outcome: string;
      counts: unknown;
    }>;
    expect(report?.feed).toBe('feverup');
    expect(['unchanged', 'not_modified']).toContain(report?.outcome);
    const base = await api(dataDir);
    expect((await search(base)).length).toBe(inserted);
    expect((await feedsOf(base)).feverup).toMatchObject({ configured: true, events: inserted });
  });

  it('kill -9 during the apply of one feed while another is received: neither is partly visible, both land after restart', async () => {
    const random = createRandom(SEED);
    const big = { id: 'big', url: serve('big.xml', 20_000, SEED), poll_interval_ms: 600_000 };
    const drip = {
      id: 'drip',
      url: serve('drip.xml', 20, SEED + 1, 'trickle'),
      poll_interval_ms: 600_000,
    };
    // The truth: each feed alone, and how long the big one's whole poll takes.
    const bigIds = await reference(big);
    const dripIds = await reference({ ...drip, url: urlOf('drip.xml', 'static') });
    const timed = track(startApp('ingestor', ingestorEnv(tempDir(), [big]), ['--once', '--json']));
    expect(await timed.exited).toBe(0);
    const pollMs = (JSON.parse(timed.stdout())[0] as { durationMs: number }).durationMs;

    const counts = async (dataDir: string) => {
      const base = await api(dataDir);
      const feeds = await feedsOf(base);
      const total = (await search(base)).length;
      await running.pop()?.stop(); // that API
      return { big: feeds.big?.events ?? 0, drip: feeds.drip?.events ?? 0, total };
    };
    for (let round = 0; round < 3; round++) {
      const dataDir = tempDir();
      const ingestor = track(startApp('ingestor', ingestorEnv(dataDir, [big, drip])));
      await ingestor.waitForOutput(
        /"feed":"big".*"msg":"feed arriving: staging its records"/,
        30_000,
      );
      // Anywhere in the big feed's poll, its apply included, while the drip is still arriving.
      await new Promise((r) => setTimeout(r, random() * pollMs * 1.3));
      ingestor.signal('SIGKILL');
      await ingestor.exited;
      running.splice(running.indexOf(ingestor), 1);
      const seen = await counts(dataDir);
      expect([0, bigIds.size], `round ${round}: big`).toContain(seen.big);
      expect([0, dripIds.size], `round ${round}: drip`).toContain(seen.drip);
      expect(seen.total).toBe(seen.big + seen.drip);

      const again = track(startApp('ingestor', ingestorEnv(dataDir, [big, drip])));
      for (const id of ['big', 'drip']) {
        await again.waitForOutput(
          new RegExp(`"feed":"${id}".*"msg":"poll (applied|unchanged|not_modified)"`),
          60_000,
        );
      }
      await again.stop();
      running.splice(running.indexOf(again), 1);
      const landed = await counts(dataDir);
      expect(landed, `round ${round}: after restart`).toEqual({
        big: bigIds.size,
        drip: dripIds.size,
        total: bigIds.size + dripIds.size,
      });
    }
  }, 180_000);
});
