import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNode } from '@tessera/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from '../src/store-error.js';
import { openStoreWriter } from '../src/store-writer.js';

const HOLD_FEED = fileURLToPath(new URL('./processes/hold-feed.mjs', import.meta.url));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-lock-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function secondWriter(): StoreError {
  try {
    openStoreWriter({ path: dir });
  } catch (error) {
    return error as StoreError;
  }
  throw new Error('a second writer opened the store');
}

describe('the writer lock', () => {
  it('refuses a second writer at once, naming the holder, and frees itself when the holder dies', async () => {
    const holder = startNode(HOLD_FEED, [dir, '[]', '[]'], { stdin: true });
    const [, pid] = await holder.waitForOutput(/^open (\d+)$/m);
    const started = Date.now();
    const error = secondWriter();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(error).toBeInstanceOf(StoreError);
    expect(error.code).toBe('store_locked');
    expect(error.message).toMatch(
      new RegExp(`^another ingestor holds the store at ${dir} \\(pid ${pid} on .+\\)`),
    );
    // kill -9 leaves no stale lock: the kernel drops it with the process.
    holder.signal('SIGKILL');
    await holder.exited;
    const writer = openStoreWriter({ path: dir });
    await writer.close();
  });

  it('is released by close, so the same process can open the store again', async () => {
    const first = openStoreWriter({ path: dir });
    expect(secondWriter().code).toBe('store_locked');
    await first.close();
    const again = openStoreWriter({ path: dir });
    await again.close();
  });
});
