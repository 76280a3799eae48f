import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, getJson, startApp, waitUntil } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { System } from './system.js';

/**
 * A backup taken while the daemon is in the middle of a big feed: the copy is a store of its own
 * that an API serves, holding exactly what was committed when it was taken (the first feed),
 * neither the feed being received nor anything after it.
 */
const system = new System();
const FIRST = {
  kind: 'generated' as const,
  bases: 300,
  eventsPerBase: 2,
  zonesPerEvent: 5,
  seed: 5,
  onlineRatio: 1,
};
const BIG = {
  kind: 'generated' as const,
  bases: 3_000,
  eventsPerBase: 2,
  zonesPerEvent: 30,
  seed: 6,
  onlineRatio: 1,
};
const target = join(mkdtempSync(join(tmpdir(), 'tessera-backup.')), 'copy');

beforeAll(async () => {
  await system.startSim(FIRST);
  expect((await system.ingestOnce()).code).toBe(0);
  await system.startApi({ API_WORKERS: '1' });
});
afterAll(async () => {
  await system.stopAll();
  await system.dispose();
  rmSync(join(target, '..'), { recursive: true, force: true });
});

async function whole(port: number): Promise<{ body: string; etag: string | null }> {
  const res = await fetch(`http://127.0.0.1:${port}/search`);
  return { body: await res.text(), etag: res.headers.get('etag') };
}

describe('ingestor backup <dir>', () => {
  it('copies exactly the last committed feed while a big one is being received, and the copy serves', async () => {
    const before = await whole(system.apiPort);
    await system.control('source', BIG);
    await system.control('plan', {
      steps: [{ kind: 'hold', afterBytes: 3_000_000 }],
      afterwards: 'none',
    });
    const ingestor = system.startIngestor({
      POLL_INTERVAL_MS: '600000',
      BODY_IDLE_TIMEOUT_MS: '600000',
    });
    await ingestor.waitForOutput(/"msg":"feed arriving: staging its records"/, 60_000);
    await waitUntil(async () => (await system.simState()).held === 1, { what: 'the held feed' });

    const backup = startApp('ingestor', { DATA_DIR: system.dataDir, LOG_LEVEL: 'info' }, [
      'backup',
      target,
      '--json',
    ]);
    expect(await backup.exited).toBe(0);
    const report = JSON.parse(backup.stdout()) as { events: number; head: { version: number } };
    expect(report.events).toBe(JSON.parse(before.body).data.events.length);

    // The big feed lands in the live store; the copy is untouched by it.
    await system.release();
    await ingestor.waitForOutput(/"msg":"poll applied"/, 120_000);
    expect((await whole(system.apiPort)).body).not.toBe(before.body);

    const port = await freePort();
    const api = startApp('api', {
      DATA_DIR: target,
      PORT: String(port),
      HOST: '127.0.0.1',
      API_WORKERS: '1',
    });
    try {
      await waitUntil(() => getJson(`http://127.0.0.1:${port}/health`), {
        what: 'the API on the copy',
      });
      const copy = await whole(port);
      expect(copy.body).toBe(before.body);
      // The same store id and version: the ETags of what it serves are the ones it served.
      expect(copy.etag).toBe(before.etag);
      expect((await fetch(`http://127.0.0.1:${port}/ready`)).status).toBe(200);
    } finally {
      await api.stop();
    }
  });

  it('refuses a target that is not empty, and needs its directory argument', async () => {
    const again = startApp('ingestor', { DATA_DIR: system.dataDir }, ['backup', target]);
    expect(await again.exited).toBe(1);
    expect(again.output()).toMatch(/is not empty: back up into a new directory/);
    const bare = startApp('ingestor', { DATA_DIR: system.dataDir }, ['backup']);
    expect(await bare.exited).toBe(2);
    expect(bare.stderr()).toMatch(/^ingestor: backup needs <dir>\n/);
  });
});
