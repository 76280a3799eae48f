import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EventRecord, eventIdFor, type NormalizedEvent, toEventRecord } from '@tessera/core';
import {
  type ReplicationStatus,
  readReplicationStatus,
  writeReplicationStatus,
} from '@tessera/replication/status';
import {
  type ChangeRetention,
  openStoreReader,
  openStoreWriter,
  type StoreWriter,
} from '@tessera/store';
import { pino } from 'pino';
import { type AppDeps, createApp } from '../src/app.js';
import { loadConfig, serverTimeouts } from '../src/config.js';
import { type ServerTimeouts, startServer } from '../src/server.js';

export const silent = pino({ level: 'silent' });

/** The API's defaults; tests shorten the ones they exercise. */
const DEFAULT_TIMEOUTS = serverTimeouts(loadConfig({}));

/**
 * A real store in a temp dir, written through a writer as the ingestor would, read by the app
 * through a read-only reader as in production, served on an ephemeral port via app.callback().
 */
export async function startApp(
  options: Partial<AppDeps> = {},
  timeouts: Partial<ServerTimeouts> = {},
  storeOptions: { changeRetention?: ChangeRetention } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-api-'));
  const writer = openStoreWriter({ path: dir, ...storeOptions });
  const reader = openStoreReader({ path: dir });
  const replication = () => readReplicationStatus(dir);
  const app = createApp({ store: reader, replication, log: silent, ...options });
  const running = await startServer(app, 0, '127.0.0.1', { ...DEFAULT_TIMEOUTS, ...timeouts });
  const base = `http://127.0.0.1:${running.port}`;
  return {
    writer,
    reader,
    /** Writes the replication status beside the store, as a cluster node's ingestor does. */
    writeReplicationStatus: (status: ReplicationStatus) => writeReplicationStatus(dir, status),
    base,
    port: running.port,
    server: running.server,
    get: (path: string, init?: RequestInit) => fetch(`${base}${path}`, init),
    async close() {
      app.changes.close();
      await running.close(0);
      await reader.close();
      await writer.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let n = 0;
export function event(
  start: string,
  end: string,
  overrides: Partial<NormalizedEvent> = {},
): EventRecord {
  return eventWithId(String(++n), start, end, overrides);
}

/** The record of partner event `eventId` (base 1 of feed `test`): the same event at each call. */
export function eventWithId(
  eventId: string,
  start: string,
  end: string,
  overrides: Partial<NormalizedEvent> = {},
): EventRecord {
  return toEventRecord({
    id: eventIdFor('test', '1', eventId),
    provider: 'test',
    baseId: '1',
    eventId,
    title: `event ${start}`,
    startDate: start.slice(0, 10),
    startTime: start.slice(11, 19),
    endDate: end.slice(0, 10),
    endTime: end.slice(11, 19),
    startsAt: Date.parse(`${start}Z`),
    endsAt: Date.parse(`${end}Z`),
    minPrice: 10,
    maxPrice: 20,
    ...overrides,
  });
}

export function fill(store: StoreWriter, records: EventRecord[], at = Date.now()): void {
  store.applyFeed('test', records, {
    at,
    validators: { urlDigest: null, etag: null, lastModified: null, hash: String(at) },
  });
}

/** Response bodies in tests are checked field by field, so they are typed loosely on purpose. */
// biome-ignore lint/suspicious/noExplicitAny: test-only access to arbitrary JSON
export async function json(res: Response): Promise<any> {
  return res.json();
}
