import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventIdFor } from '@tessera/core';
import { BUILT_IN_FORMAT } from '@tessera/mapping';
import {
  createProviderSim,
  type FaultPlan,
  type ProviderSim,
  type Source,
} from '@tessera/simulator';
import { openStoreWriter, type StoreWriter } from '@tessera/store';
import { pino } from 'pino';
import { createFeedFetcher, type FeedFetcher, type FetcherOptions } from '../src/feed-fetcher.js';
import { type PollDeps, pollFeed } from '../src/feed-poll.js';
import { storeSink } from '../src/feed-sink.js';
import { createParserPool, type ParserPool } from '../src/parser-pool.js';

export const silent = pino({ level: 'silent' });

export interface Harness {
  sim: ProviderSim;
  /** What the harness's fetcher was made with, for a test that makes another like it. */
  fetcherOptions: FetcherOptions;
  store: StoreWriter;
  pool: ParserPool;
  fetcher: FeedFetcher;
  deps: PollDeps;
  poll(): ReturnType<typeof pollFeed>;
  titles(): string[];
  summaries(): Array<Record<string, unknown>>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  source?: Source;
  plan?: FaultPlan;
  fetcher?: Partial<FetcherOptions>;
  poll?: Partial<PollDeps>;
  compress?: boolean;
  threads?: number;
  maxHeapMb?: number;
  /** Appended to the simulator's URL as its query (a partner's token, say). */
  query?: string;
  /** The store directory; a fresh temp dir by default. */
  dir?: string;
}

/** A real simulator on an ephemeral port, a real LMDB in a temp dir, real worker threads. */
export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'tessera-ingest-'));
  const sim = createProviderSim({
    source: options.source,
    plan: options.plan,
    compress: options.compress ?? true,
  });
  const url = `${await sim.listen()}${options.query === undefined ? '' : `?${options.query}`}`;
  const store = openStoreWriter({ path: dir });
  const pool = createParserPool({ threads: options.threads ?? 2, maxHeapMb: options.maxHeapMb });
  const fetcherOptions: FetcherOptions = {
    url,
    connectTimeoutMs: 2_000,
    headersTimeoutMs: 2_000,
    bodyIdleTimeoutMs: 2_000,
    maxFeedBytes: 64 * 1024 * 1024,
    ...options.fetcher,
  };
  const fetcher = createFeedFetcher(fetcherOptions);
  const deps: PollDeps = {
    store: storeSink(store, 'feverup'),
    fetcher,
    pool,
    log: silent,
    provider: 'feverup',
    timeZone: 'UTC',
    format: BUILT_IN_FORMAT,
    chunkBytes: 64 * 1024,
    maxElementBytes: 4 * 1024 * 1024,
    deadlineMs: 10_000,
    ...options.poll,
  };
  const summaries = () =>
    [...store.scan({ startsAt: null, endsAt: null })].map(
      (b) => JSON.parse(b.toString('utf8')) as Record<string, unknown>,
    );
  return {
    sim,
    store,
    pool,
    fetcher,
    fetcherOptions,
    deps,
    poll: () => pollFeed(deps, new AbortController().signal),
    summaries,
    titles: () => summaries().map((s) => String(s.title)),
    async close() {
      await Promise.allSettled([sim.close(), pool.close(), fetcher.close()]);
      await store.close();
      if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const idOf = (baseId: string, eventId: string) => eventIdFor('feverup', baseId, eventId);
