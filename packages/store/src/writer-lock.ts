import { closeSync, constants, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { flockSync } from 'fs-ext';
import { WRITER_LOCK_FILE } from './layout.js';
import { StoreError } from './store-error.js';

export interface WriterLock {
  release(): void;
}

interface Holder {
  pid: number;
  host: string;
  since: string;
}

/**
 * Takes the store's writer lock: an exclusive flock(2) on `writer.lock` in the store directory,
 * tried once, never waited for. The kernel releases it when the holder exits, however it exits,
 * so a crashed ingestor never leaves a stale lock, and it holds across containers that share the
 * volume. LMDB's own writer mutex only orders transactions; this keeps a second ingestor from
 * writing between the first one's polls. The holder writes who it is into the file, for the
 * message a second ingestor prints.
 */
export function acquireWriterLock(dir: string): WriterLock {
  const file = join(dir, WRITER_LOCK_FILE);
  const fd = openSync(file, constants.O_RDWR | constants.O_CREAT, 0o644);
  try {
    flockSync(fd, 'exnb');
  } catch (cause) {
    closeSync(fd);
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'EAGAIN' || code === 'EWOULDBLOCK') {
      throw new StoreError(
        'store_locked',
        `another ingestor holds the store at ${dir}${describeHolder(file)}; only one may write it`,
        { cause },
      );
    }
    throw cause;
  }
  const holder: Holder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  ftruncateSync(fd, 0);
  writeSync(fd, `${JSON.stringify(holder)}\n`, 0);
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      closeSync(fd); // closing the only descriptor releases the flock
    },
  };
}

function describeHolder(file: string): string {
  try {
    const holder = JSON.parse(readFileSync(file, 'utf8')) as Partial<Holder>;
    if (typeof holder.pid !== 'number') return '';
    // A PID is only meaningful in the holder's PID namespace (another container's, perhaps).
    return ` (pid ${holder.pid} on ${holder.host ?? 'an unknown host'}, since ${holder.since ?? '?'})`;
  } catch {
    return '';
  }
}
