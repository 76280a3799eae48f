import { existsSync } from 'node:fs';
import { waitUntil } from '@tessera/testkit';
import { EventSource } from 'eventsource';
import puppeteer, { type Browser } from 'puppeteer-core';
import { afterEach, describe, expect, it } from 'vitest';
import { System } from './system.js';

/**
 * The change feed against maintained clients: the `eventsource` package and Chromium's own
 * EventSource in a page follow /changes from a /search listing while a real ingestor applies
 * evolving feeds of two partners (new values, moved starts, new events), the API is restarted
 * under them, and each must end with exactly the final /search answer.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let system: System | undefined;
let browser: Browser | undefined;
afterEach(async () => {
  await browser?.close();
  browser = undefined;
  await system?.stopAll();
  await system?.dispose();
  system = undefined;
});

/** A consumer's copy of /search: events by id, as JSON text. */
type Copy = Map<string, string>;

async function list(port: number): Promise<{ copy: Copy; token: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/search`);
  expect(res.status).toBe(200);
  const token = res.headers.get('changes-token')!;
  const body = (await res.json()) as { data: { events: Array<{ id: string }> } };
  return { copy: new Map(body.data.events.map((e) => [e.id, JSON.stringify(e)])), token };
}

const sorted = (copy: Copy): string => JSON.stringify([...copy].sort());

/** Two feeds of one evolving partner: every poll of either serves new values and starts. */
async function startEvolvingPartners(s: System): Promise<void> {
  await s.startSim({
    kind: 'generated',
    bases: 15,
    eventsPerBase: 3,
    zonesPerEvent: 2,
    seed: 5,
    evolve: true,
  });
  await s.startApi({ API_WORKERS: '2' });
  s.startIngestor({
    FEEDS: JSON.stringify([
      { id: 'north', url: s.feedUrl },
      { id: 'south', url: s.feedUrl },
    ]),
    PROVIDER_URL: '',
  });
  await waitUntil(async () => (await s.ready()).events > 0, { what: 'a first feed applied' });
}

/** Chromium's EventSource, in a page of the API's own origin, collecting every change. */
async function followInChromium(port: number, token: string) {
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${port}/docs`);
  // A string, not a function: the test's own imports (this file's EventSource among them) are
  // rewritten by the test runner, and the page must use the browser's.
  await page.evaluate(`
    globalThis.seen = [];
    const source = new EventSource('/changes?since=${token}');
    source.onmessage = (message) => globalThis.seen.push(message.data);
  `);
  return {
    changes: () => page.evaluate(() => (globalThis as unknown as { seen: string[] }).seen.slice()),
  };
}

describe('following /changes from a /search listing', () => {
  it('rebuilds the final /search answer through feed rounds and an API restart', async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} (set CHROMIUM_PATH)`).toBe(true);
    system = new System();
    const s = system;
    await startEvolvingPartners(s);
    const listed = await list(s.apiPort);
    const fromBrowser = new Map(listed.copy);
    const tokens: string[] = [];
    const source = new EventSource(`http://127.0.0.1:${s.apiPort}/changes?since=${listed.token}`);
    source.onmessage = (message) => {
      const change = JSON.parse(message.data);
      tokens.push(message.lastEventId);
      listed.copy.set(change.event.id, JSON.stringify(change.event));
    };
    try {
      const chromium = await followInChromium(s.apiPort, listed.token);
      const served = (await s.simState()).feedsServed;
      await waitUntil(async () => (await s.simState()).feedsServed >= served + 4, {
        what: 'four more feed rounds',
      });
      const before = tokens.length;
      expect(before).toBeGreaterThan(0);
      await waitUntil(async () => (await chromium.changes()).length > 0, {
        what: 'changes in Chromium',
      });

      // The API goes away under both clients and comes back on the same port and store; each
      // reconnects by itself with the Last-Event-ID of the last change it had.
      expect(await s.api!.stop()).toBe(0);
      await s.startApi({ API_WORKERS: '2' });
      const restarted = (await s.simState()).feedsServed;
      await waitUntil(async () => (await s.simState()).feedsServed >= restarted + 4, {
        what: 'four feed rounds after the restart',
      });
      await waitUntil(() => tokens.length > before, { what: 'changes after the restart' });
      expect(await s.ingestor!.stop()).toBe(0);

      const final = (await list(s.apiPort)).copy;
      await waitUntil(() => sorted(listed.copy) === sorted(final), {
        timeoutMs: 15_000,
        what: 'the eventsource client to hold the final /search answer',
      });
      // Resumed exactly after the last change it had: no change twice, even across the restart.
      expect(new Set(tokens).size).toBe(tokens.length);
      await waitUntil(
        async () => {
          const copy = new Map(fromBrowser);
          for (const data of await chromium.changes()) {
            const change = JSON.parse(data);
            copy.set(change.event.id, JSON.stringify(change.event));
          }
          return sorted(copy) === sorted(final);
        },
        { timeoutMs: 15_000, what: "Chromium's EventSource to hold the final /search answer" },
      );
    } finally {
      source.close();
    }
  });
});
