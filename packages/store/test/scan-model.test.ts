import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EventRecord, eventIdFor, isInWindow, type QueryWindow } from '@tessera/core';
import { createRandom } from '@tessera/simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStoreReader, type StoreReader } from '../src/store-reader.js';
import { openStoreWriter, type StoreWriter } from '../src/store-writer.js';

const SEED = Number(process.env.SCAN_SEED ?? 29);
const HOUR = 3_600_000;
const BASE = Date.parse('2024-01-01T00:00:00Z');
const commit = (at: number) => ({
  at,
  validators: { urlDigest: null, etag: null, lastModified: null, hash: `h${at}` },
});

/**
 * What a scan must return, from the records written and nothing of the store: every event of the
 * latest write of its id inside the window, in (start, id) order, its summary byte for byte.
 */
function expected(model: Map<string, EventRecord>, window: QueryWindow): string[] {
  return [...model.values()]
    .filter((r) => isInWindow(window, r.startsAt, r.endsAt))
    .sort((a, b) => a.startsAt - b.startsAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((r) => r.summary);
}

let dir: string;
let writer: StoreWriter;
let reader: StoreReader;
const model = new Map<string, EventRecord>();

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-scan-model-'));
  writer = openStoreWriter({ path: dir });
  const random = createRandom(SEED);
  // Three writes: new events, then new values and moved starts for some of them.
  for (let round = 0; round < 3; round++) {
    const records: EventRecord[] = [];
    for (let i = 0; i < 1_500; i++) {
      if (round > 0 && random() < 0.7) continue;
      const id = eventIdFor('scan', String(i % 40), String(i));
      const startsAt = BASE + Math.floor(random() * 24 * 90) * HOUR;
      const endsAt = startsAt + Math.floor(1 + random() * 48) * HOUR;
      // Summaries of many sizes, some past a few KiB, so that values differ in length.
      const title = `event ${i} round ${round} ${'é'.repeat(Math.floor(random() ** 4 * 3000))}`;
      records.push({ id, startsAt, endsAt, summary: JSON.stringify({ id, title }) });
    }
    writer.applyFeed('scan', records, commit(round + 1));
    for (const r of records) model.set(r.id, r);
  }
  reader = openStoreReader({ path: dir });
});
afterAll(async () => {
  await reader.close();
  await writer.close();
  rmSync(dir, { recursive: true, force: true });
});

describe(`a scan against a plain model of the writes (SCAN_SEED=${SEED})`, () => {
  it('returns exactly the model events of 300 seeded windows, in order, byte for byte', () => {
    const random = createRandom(SEED + 1);
    for (let i = 0; i < 300; i++) {
      const from = BASE + Math.floor(random() * 24 * 100 - 24 * 5) * HOUR;
      const span = Math.floor(random() ** 2 * 24 * 60) * HOUR;
      const window: QueryWindow = {
        startsAt: random() < 0.1 ? null : from,
        endsAt: random() < 0.1 ? null : from + span,
      };
      const scanned = [...reader.scan(window)].map((b) => b.toString('utf8'));
      expect(scanned, `window ${JSON.stringify(window)}`).toEqual(expected(model, window));
    }
  });

  it('holds every summary it returned while it reads on (each is a copy, not a view)', () => {
    const window: QueryWindow = { startsAt: null, endsAt: null };
    const held: Buffer[] = [];
    for (const summary of reader.scan(window)) held.push(summary);
    // Other reads in between, as a responder's other requests would make.
    for (const id of [...model.keys()].slice(0, 50)) reader.event(id);
    expect(held.map((b) => b.toString('utf8'))).toEqual(expected(model, window));
  });
});
