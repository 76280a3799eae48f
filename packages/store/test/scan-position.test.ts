import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EventRecord, eventIdFor } from '@tessera/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStoreReader } from '../src/store-reader.js';
import { openStoreWriter, type StoreWriter } from '../src/store-writer.js';

const all = { startsAt: null, endsAt: null };
const commit = {
  at: 1,
  validators: { urlDigest: null, etag: null, lastModified: null, hash: 'h' },
};
const HOUR = 3_600_000;
const BASE = Date.parse('2021-06-01T00:00:00Z');

function record(n: number, hour = n, title = `event ${n}`): EventRecord {
  const id = eventIdFor('test', '1', String(n));
  const startsAt = BASE + hour * HOUR;
  return { id, startsAt, endsAt: startsAt + 60_000, summary: JSON.stringify({ id, title }) };
}

const titles = (buffers: Iterable<Buffer>) =>
  [...buffers].map((b) => (JSON.parse(b.toString()) as { title: string }).title);

let dir: string;
let writer: StoreWriter;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-position-'));
  writer = openStoreWriter({ path: dir });
});
afterEach(async () => {
  await writer.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('scans from a position', () => {
  it('resume strictly after the last key returned, and add up to the whole scan', () => {
    writer.applyFeed(
      'test',
      Array.from({ length: 10 }, (_, i) => record(i, Math.floor(i / 3))), // ties on starts
      commit,
    );
    const whole = titles(writer.scan(all));
    const version = writer.head().version;
    const pages: string[] = [];
    let scan = writer.scan(all);
    for (;;) {
      const page = [];
      for (let i = 0; i < 4; i++) {
        const next = scan.next();
        if (next.done === true) break;
        page.push(next.value);
      }
      pages.push(...titles(page));
      const after = scan.lastKey();
      scan.return?.();
      if (page.length < 4 || after === undefined) break;
      scan = writer.scan(all, { after, movedSince: version });
    }
    expect(pages).toEqual(whole);
  });

  it('leave out the events moved since the position, which may have been served before it', () => {
    writer.applyFeed('test', [record(1), record(2), record(3), record(4)], commit);
    const version = writer.head().version;
    const first = writer.scan(all);
    expect(titles([first.next().value as Buffer, first.next().value as Buffer])).toEqual([
      'event 1',
      'event 2',
    ]);
    const after = first.lastKey();
    first.return?.();
    // Event 1 (served) moves past the position; 3 changes in place; 5 is new.
    writer.applyFeed(
      'test',
      [record(1, 10, 'event 1 moved'), record(3, 3, 'event 3 new'), record(5)],
      commit,
    );
    expect(titles(writer.scan(all, { after: after!, movedSince: version }))).toEqual([
      'event 3 new',
      'event 4',
      'event 5',
    ]);
    // A scan from the current version has nothing to leave out.
    expect(titles(writer.scan(all, { after: after!, movedSince: writer.head().version }))).toEqual([
      'event 3 new',
      'event 4',
      'event 5',
      'event 1 moved',
    ]);
  });
});

describe('one event by id', () => {
  it('is read from the ids index, at its current key, by any reader', async () => {
    writer.applyFeed('test', [record(1), record(2)], commit);
    writer.applyFeed('test', [record(1, 7, 'later')], commit);
    const reader = openStoreReader({ path: dir });
    try {
      const found = reader.event(record(1).id);
      expect(JSON.parse(found!.summary.toString())).toEqual({ id: record(1).id, title: 'later' });
      expect(found!.digest).toMatch(/^[\w-]{22}$/);
      expect(reader.event(eventIdFor('test', '1', '99'))).toBeUndefined();
    } finally {
      await reader.close();
    }
  });
});
