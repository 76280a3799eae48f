import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, getJson, waitUntil } from '@tessera/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SEED_WINDOW, System } from './system.js';

/**
 * Operator actions and FEEDS reloads through the real processes: the API's admin port, the
 * ingestor behind its control socket, the simulator as the partner counting the requests it gets.
 */
const TOKEN = 'operator-token-for-the-e2e-suite';
const INTERVAL_MS = 300;

let system: System;
let adminPort: number;
let feedsFile: string;
beforeEach(async () => {
  system = new System();
  await system.startSim({ kind: 'fixtures', vocabulary: 'plan', response: 1 });
  feedsFile = join(system.dataDir, 'feeds.json');
  writeFeeds([{ id: 'a', url: system.feedUrl }]);
  system.startIngestor({ FEEDS: `@${feedsFile}`, POLL_INTERVAL_MS: String(INTERVAL_MS) });
  adminPort = await freePort();
  await system.startApi({ ADMIN_PORT: String(adminPort), ADMIN_TOKEN: TOKEN });
  await waitUntil(async () => (await feeds()).some((f) => f.id === 'a' && f.events > 0), {
    what: 'feed a applied',
  });
});
afterEach(async () => {
  await system.stopAll();
  await system.dispose();
});

function writeFeeds(entries: Array<{ id: string; url: string }>): void {
  writeFileSync(feedsFile, JSON.stringify(entries));
}

interface FeedStatus {
  id: string;
  configured: boolean;
  paused: boolean;
  events: number;
}
async function feeds(): Promise<FeedStatus[]> {
  const body = (await getJson(`http://127.0.0.1:${adminPort}/feeds`)) as {
    data: { feeds: FeedStatus[] };
  };
  return body.data.feeds;
}

function act(feed: string, action: string, token: string | null = TOKEN): Promise<Response> {
  return fetch(`http://127.0.0.1:${adminPort}/feeds/${feed}/${action}`, {
    method: 'POST',
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
}

async function envelope(res: Response) {
  return (await res.json()) as {
    data: Record<string, unknown> | null;
    error: { code: string } | null;
  };
}

const requests = async (): Promise<number> => (await system.simState()).feedRequests;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('operator actions', () => {
  it('refuse a request without the token, or with another, and do nothing', async () => {
    for (const token of [null, 'not-the-operator-token-at-all']) {
      const res = await act('a', 'pause', token);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({
        error: { code: 'unauthorized', message: expect.any(String) },
        data: null,
      });
    }
    expect((await feeds()).find((f) => f.id === 'a')?.paused).toBe(false);
    // The public port serves neither the actions nor /feeds and /metrics.
    const open = `http://127.0.0.1:${system.apiPort}`;
    expect((await fetch(`${open}/feeds`)).status).toBe(404);
    expect((await fetch(`${open}/metrics`)).status).toBe(404);
  });

  it('poll now: the partner sees a request within a second', async () => {
    // A long interval: only the action brings a request this soon.
    await system.ingestor?.stop();
    system.startIngestor({ FEEDS: `@${feedsFile}`, POLL_INTERVAL_MS: '600000' });
    await waitUntil(async () => (await act('a', 'pause')).status === 200, { what: 'the ingestor' });
    await act('a', 'resume');
    await pause(300);
    const before = await requests();
    const res = await act('a', 'poll');
    expect(res.status).toBe(202);
    expect((await envelope(res)).data).toMatchObject({
      feed: 'a',
      action: 'poll',
      outcome: 'polling',
    });
    await waitUntil(async () => (await requests()) > before, {
      what: 'the partner to see the poll',
      timeoutMs: 1_000,
    });
  });

  it('pause: no request for several intervals, across an ingestor restart, until resumed', async () => {
    const paused = await act('a', 'pause');
    expect(paused.status).toBe(200);
    expect((await envelope(paused)).data).toMatchObject({ outcome: 'paused', paused: true });
    expect((await feeds()).find((f) => f.id === 'a')?.paused).toBe(true);
    await pause(INTERVAL_MS); // a poll in flight when it was paused ends
    const before = await requests();
    await pause(INTERVAL_MS * 5);
    expect(await requests()).toBe(before);
    expect((await act('a', 'poll')).status).toBe(409);
    // The pause is the store's: a restarted ingestor keeps it.
    await system.ingestor?.stop();
    system.startIngestor({ FEEDS: `@${feedsFile}`, POLL_INTERVAL_MS: String(INTERVAL_MS) });
    await waitUntil(async () => (await act('a', 'pause')).status === 200, { what: 'the ingestor' });
    await pause(INTERVAL_MS * 4);
    expect(await requests()).toBe(before);
    const resumed = await act('a', 'resume');
    expect((await envelope(resumed)).data).toMatchObject({ outcome: 'resumed', paused: false });
    await waitUntil(async () => (await requests()) > before, { what: 'polls again' });
    expect((await feeds()).find((f) => f.id === 'a')?.paused).toBe(false);
  });

  it('an unknown feed is 404 unknown_feed', async () => {
    const res = await act('nope', 'poll');
    expect(res.status).toBe(404);
    expect((await envelope(res)).error?.code).toBe('unknown_feed');
  });
});

describe('FEEDS reload', () => {
  it('adds a feed whose events appear; a broken FEEDS changes nothing', async () => {
    const events = (await system.search(SEED_WINDOW)).length;
    writeFeeds([
      { id: 'a', url: system.feedUrl },
      { id: 'b', url: system.feedUrl },
    ]);
    await waitUntil(async () => (await feeds()).some((f) => f.id === 'b' && f.events > 0), {
      what: 'feed b added and applied',
    });
    // The same answers under another feed are other events.
    expect((await system.search(SEED_WINDOW)).length).toBe(events * 2);
    writeFileSync(feedsFile, '[{"id": "a", "url": "not a url"}');
    await waitUntil(() => system.ingestor?.output().includes('FEEDS reload refused'), {
      what: 'the refusal logged',
    });
    const before = await requests();
    await pause(INTERVAL_MS * 3);
    expect(await requests()).toBeGreaterThan(before);
    expect((await feeds()).filter((f) => f.configured).map((f) => f.id)).toEqual(['a', 'b']);
    // And SIGHUP reads it again once fixed: b removed, its events kept.
    writeFeeds([{ id: 'a', url: system.feedUrl }]);
    system.ingestor?.signal('SIGHUP');
    await waitUntil(async () => (await feeds()).find((f) => f.id === 'b')?.configured === false, {
      what: 'feed b removed',
    });
    expect((await system.search(SEED_WINDOW)).length).toBe(events * 2);
  });
});
