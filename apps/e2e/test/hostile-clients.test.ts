import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { openStoreReader, openStoreWriter } from '@tessera/store';
import { seedStore, waitUntil, weekWindow } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { System } from './system.js';

/**
 * A public endpoint meets clients that never read and clients that vary the window to defeat
 * the cache. Against a real API process over 150k events: polite clients keep their answers,
 * memory and LMDB reader slots stay bounded, and what the stalled clients held is given back.
 */
const EVENTS = 150_000;
const IDLE_MS = 3_000;
/**
 * What the API process may reach here. Measured about 420 MB at peak: ~110 MB file-backed (the
 * mapped store, node itself) and ~300 MB anonymous, most of it V8 heap grown by the burst of
 * refused scans' first slices before the collector gives it back; by construction at most the
 * 96 MiB cache plus SCAN_CONCURRENCY (2) answers of up to 32 MiB are held on purpose.
 */
const RSS_BOUND_MB = 512;

const system = new System();
const week = weekWindow(EVENTS);
const POLITE = `?starts_at=${week.startsAt}&ends_at=${week.endsAt}`;
const sockets: Socket[] = [];

beforeAll(async () => {
  const writer = openStoreWriter({ path: system.dataDir });
  seedStore(writer, EVENTS);
  await writer.close();
  await system.startSim({ kind: 'fixtures', vocabulary: 'plan', response: 1 });
  await system.startApi({
    API_WORKERS: '1',
    RESPONSE_IDLE_TIMEOUT_MS: String(IDLE_MS),
    KEEP_ALIVE_TIMEOUT_MS: String(IDLE_MS),
  });
  expect((await system.search(POLITE)).length).toBeGreaterThan(10);
}, 120_000);

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await system.stopAll();
  await system.dispose();
});

const apiPid = () => system.api!.child.pid!;

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) / 1024;
}

/** Slots the API process holds in LMDB's reader table, read through the shared lock file. */
function readerSlots(pid: number): number {
  const reader = openStoreReader({ path: system.dataDir });
  try {
    return reader
      .readerList()
      .split('\n')
      .filter((line) => line.trim().split(/\s+/)[0] === String(pid)).length;
  } finally {
    void reader.close();
  }
}

/** One request on a raw connection whose answer is never read. */
function stalled(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port: system.apiPort, host: '127.0.0.1' }, () => {
      socket.write(`GET /search${path} HTTP/1.1\r\nHost: tessera\r\n\r\n`);
      socket.pause();
      resolve(socket);
    });
    socket.on('error', () => {});
    socket.once('error', reject);
    sockets.push(socket);
  });
}

function get(path: string): Promise<Response> {
  return fetch(`http://127.0.0.1:${system.apiPort}/search${path}`, {
    signal: AbortSignal.timeout(10_000),
  });
}

/** A polite client asking its small window in a loop; every answer's status and time. */
function politeClient() {
  const answers: Array<{ status: number; ms: number }> = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const started = performance.now();
      const res = await get(POLITE);
      await res.arrayBuffer();
      answers.push({ status: res.status, ms: performance.now() - started });
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    answers,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

describe('hostile clients against a real API over 150k events', () => {
  it('200 clients that never read: polite answers keep coming, memory and reader slots stay bounded, and all is given back', async () => {
    const baseline = readerSlots(apiPid());
    const polite = politeClient();
    let maxRss = 0;
    const sampler = setInterval(() => {
      maxRss = Math.max(maxRss, rssMb(apiPid()));
    }, 100);
    try {
      // Large windows (nearly the whole store), each a different second: none is cached.
      for (let i = 0; i < 200; i++) {
        const from = new Date(Date.parse('2000-01-01T00:00:00Z') + i * 1_000).toISOString();
        await stalled(`?starts_at=${from}&ends_at=2060-01-01T00:00:00Z`);
      }
      // An ingest commits meanwhile: the polite window's next answer is a fresh scan.
      const { code, summary } = await system.ingestOnce();
      expect(code, summary).toBe(0);
      await new Promise((r) => setTimeout(r, 1_000));
    } finally {
      await polite.stop();
      clearInterval(sampler);
    }
    expect(polite.answers.length).toBeGreaterThan(10);
    expect(polite.answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(Math.max(...polite.answers.map((a) => a.ms))).toBeLessThan(2_000);
    expect(maxRss).toBeLessThan(RSS_BOUND_MB);
    expect(system.api!.output()).not.toMatch(/MDB_READERS_FULL/);

    // After the idle timeout the server has closed every stalled connection: once read, each
    // ends, and the reader table is back where it was.
    await new Promise((r) => setTimeout(r, IDLE_MS + 500));
    await Promise.all(
      sockets.map(
        (socket) =>
          new Promise<void>((resolve) => {
            if (socket.destroyed) return resolve();
            socket.once('close', () => resolve());
            socket.resume();
          }),
      ),
    );
    await waitUntil(() => readerSlots(apiPid()) <= baseline, {
      what: 'the reader table at its baseline',
    });
  });

  it('2,000 cache-busting windows as fast as they come: 200 or 503 with the envelope, the cached window keeps answering, memory bounded', async () => {
    const polite = politeClient();
    const statuses = new Map<number, number>();
    let maxRss = 0;
    const bodies: string[] = [];
    try {
      let next = 0;
      const worker = async () => {
        while (next < 2_000) {
          const i = next++;
          // A new whole second for the first thousand; then the same seconds and a half, which
          // mean the same events as a whole second asked before (one cache entry).
          const from = new Date(
            Date.parse('2000-01-01T00:00:00Z') + (i % 1_000) * 1_000 + (i >= 1_000 ? 500 : 0),
          ).toISOString();
          const res = await get(`?starts_at=${from}`);
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status !== 200) bodies.push(await res.text());
          else await res.arrayBuffer();
          maxRss = Math.max(maxRss, rssMb(apiPid()));
        }
      };
      await Promise.all(Array.from({ length: 32 }, worker));
    } finally {
      await polite.stop();
    }
    expect([...statuses.keys()].every((s) => s === 200 || s === 503)).toBe(true);
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(2_000);
    for (const body of new Set(bodies)) {
      expect(JSON.parse(body)).toEqual({
        error: { code: 'overloaded', message: 'too many large searches at once; retry shortly' },
        data: null,
      });
    }
    expect(polite.answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(maxRss).toBeLessThan(RSS_BOUND_MB);
  });
});
