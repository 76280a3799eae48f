import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type EventRecord, eventIdFor } from '@tessera/core';
import { startNode } from '@tessera/testkit';
import { open } from 'lmdb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LAYOUT_VERSION } from '../src/layout.js';
import { StoreError } from '../src/store-error.js';
import { openStoreReader } from '../src/store-reader.js';
import { openStoreWriter } from '../src/store-writer.js';

const process = (name: string) => fileURLToPath(new URL(`./processes/${name}`, import.meta.url));
const all = { startsAt: null, endsAt: null };
const commit = {
  at: 1,
  validators: { urlDigest: null, etag: null, lastModified: null, hash: 'h' },
};

function record(eventId: string, title: string): EventRecord {
  const id = eventIdFor('test', '1', eventId);
  const startsAt = Date.parse('2021-06-01T00:00:00Z') + Number(eventId) * 3_600_000;
  return { id, startsAt, endsAt: startsAt + 60_000, summary: JSON.stringify({ id, title }) };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-reader-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function expectRefused(open: () => unknown, code: string, message: RegExp): Promise<void> {
  let error: unknown;
  try {
    const store = open() as { close?: () => Promise<void> };
    await store.close?.();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(StoreError);
  expect((error as StoreError).code).toBe(code);
  expect((error as StoreError).message).toMatch(message);
}

describe('openStoreReader', () => {
  it('reads what the writer committed', async () => {
    const writer = openStoreWriter({ path: dir });
    writer.applyFeed('test', [record('1', 'one')], commit);
    const reader = openStoreReader({ path: dir });
    expect(reader.exists()).toBe(true);
    expect(reader.head()).toEqual(writer.head());
    expect([...reader.scan(all)].map((b) => JSON.parse(b.toString()).title)).toEqual(['one']);
    await reader.close();
    await writer.close();
  });

  it('closing ends the open scans first: read again they refuse, and nothing touches freed memory', async () => {
    const child = startNode(process('close-under-scans.mjs'), ['30']);
    const [line] = await child.waitForOutput(/^\[.*\]$/m, 60_000);
    expect(await child.exited, child.output()).toBe(0);
    expect(JSON.parse(line)).toEqual([
      'store_unavailable: cannot read the store at <dir>: the store was closed during the scan',
    ]);
  });

  it('opens and reads while another process is receiving a feed, seeing only what was applied', async () => {
    const holder = startNode(
      process('hold-feed.mjs'),
      [dir, JSON.stringify([record('1', 'committed')]), JSON.stringify([record('2', 'pending')])],
      { stdin: true },
    );
    try {
      await holder.waitForOutput(/^open \d+$/m);
      // A new process opens the store and reads it while the transaction is still open.
      const reader = startNode(process('read-store.mjs'), [dir]);
      const [line] = await reader.waitForOutput(/^\{.*\}$/m, 10_000);
      expect(await reader.exited).toBe(0);
      expect(holder.output()).not.toMatch(/committed/);
      const seen = JSON.parse(line) as { head: { version: number }; titles: string[] };
      expect(seen).toMatchObject({ head: { version: 1 }, titles: ['committed'] });
      holder.send('commit');
      await holder.waitForOutput(/^committed$/m);
    } finally {
      await holder.stop();
    }
    const after = openStoreReader({ path: dir });
    expect([...after.scan(all)]).toHaveLength(2);
    expect(after.head().version).toBe(2);
    await after.close();
  });

  it('reads as empty before the writer creates the store, then opens it', async () => {
    const path = join(dir, 'not-yet');
    const reader = openStoreReader({ path, retryMs: 10 });
    expect(reader.exists()).toBe(false);
    expect(reader.count()).toBe(0);
    expect(reader.head()).toEqual({ storeId: 'none', version: 0 });
    expect(reader.state('test').lastSuccessAt).toBeNull();
    expect([...reader.scan(all)]).toEqual([]);
    const writer = openStoreWriter({ path });
    writer.applyFeed('test', [record('1', 'one')], commit);
    await new Promise((r) => setTimeout(r, 20));
    expect(reader.exists()).toBe(true);
    expect(reader.count()).toBe(1);
    expect(reader.head().storeId).toBe(writer.head().storeId);
    await reader.close();
    await writer.close();
  });

  it('takes the directory as a directory even when its name has a dot', async () => {
    const path = join(dir, 'tessera.d');
    const writer = openStoreWriter({ path });
    writer.applyFeed('test', [record('1', 'one')], commit);
    await writer.close();
    const reader = openStoreReader({ path });
    expect(reader.count()).toBe(1);
    await reader.close();
  });

  it('refuses a store of the first layout, and of a newer one, saying what to do', async () => {
    const layoutOne = open({ path: dir, noSubdir: false, maxDbs: 4 });
    const meta = layoutOne.openDB('meta', { encoding: 'msgpack' });
    layoutOne.openDB('events', { encoding: 'binary' });
    layoutOne.openDB('ids', { encoding: 'msgpack' });
    await meta.put('version', 3);
    await layoutOne.close();
    const refused = new RegExp(
      `layout version 1 but this Tessera reads layout version ${LAYOUT_VERSION}: re-ingest into an empty DATA_DIR`,
    );
    await expectRefused(() => openStoreReader({ path: dir }), 'store_layout_mismatch', refused);
    await expectRefused(() => openStoreWriter({ path: dir }), 'store_layout_mismatch', refused);

    const newer = join(dir, 'newer');
    const writer = openStoreWriter({ path: newer });
    await writer.close();
    const raw = open({ path: newer, noSubdir: false, maxDbs: 4 });
    await raw.openDB('meta', { encoding: 'msgpack' }).put('layout', LAYOUT_VERSION + 1);
    await raw.close();
    await expectRefused(
      () => openStoreReader({ path: newer }),
      'store_layout_mismatch',
      new RegExp(
        `layout version ${LAYOUT_VERSION + 1} but this Tessera reads layout version ${LAYOUT_VERSION}`,
      ),
    );
  });

  it('names the path and the system cause when the store cannot be opened', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a directory');
    const path = join(file, 'store');
    await expectRefused(
      () => openStoreWriter({ path }),
      'store_unavailable',
      new RegExp(`^cannot open the store at ${path}: ENOTDIR`),
    );
  });
});

describe('store identity', () => {
  it('gives every new store its own id and keeps it across reopening', async () => {
    const a = openStoreWriter({ path: join(dir, 'a') });
    const b = openStoreWriter({ path: join(dir, 'b') });
    const idA = a.head().storeId;
    expect(idA).toMatch(/^[\w-]{16}$/);
    expect(b.head().storeId).not.toBe(idA);
    await Promise.all([a.close(), b.close()]);
    const again = openStoreWriter({ path: join(dir, 'a') });
    expect(again.head().storeId).toBe(idA);
    await again.close();
  });
});
