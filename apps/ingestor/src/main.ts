#!/usr/bin/env node
import { setPriority } from 'node:os';
import { SettingsError } from '@tessera/core';
import { openStore } from '@tessera/store';
import { pino } from 'pino';
import { loadConfig } from './config.js';
import { createFeedFetcher } from './feed-fetcher.js';
import { createIngestor, formatSummary } from './ingestor.js';
import { createParserPool } from './parser-pool.js';
import { createProgress } from './progress.js';

async function main(): Promise<number> {
  const once = process.argv.includes('--once');
  const config = loadConfig(process.env);
  const log = pino({ level: config.LOG_LEVEL, base: { service: 'ingestor' } });
  // Before the workers start: threads inherit the priority of the thread that creates them.
  if (config.INGEST_NICE > 0) {
    try {
      setPriority(config.INGEST_NICE);
    } catch (error) {
      log.warn({ err: error }, 'could not lower the ingestor CPU priority');
    }
  }
  const store = openStore({ path: config.DATA_DIR });
  const pool = createParserPool(config.PARSE_THREADS);
  const fetcher = createFeedFetcher({
    url: config.PROVIDER_URL,
    connectTimeoutMs: config.CONNECT_TIMEOUT_MS,
    headersTimeoutMs: config.HEADERS_TIMEOUT_MS,
    bodyIdleTimeoutMs: config.BODY_IDLE_TIMEOUT_MS,
    maxFeedBytes: config.MAX_FEED_BYTES,
  });
  const progress = once && process.stderr.isTTY ? createProgress(process.stderr) : undefined;
  const ingestor = createIngestor({
    store,
    fetcher,
    pool,
    log,
    provider: config.PROVIDER_ID,
    timeZone: config.PROVIDER_TIMEZONE,
    chunkBytes: config.CHUNK_BYTES,
    maxElementBytes: config.MAX_ELEMENT_BYTES,
    deadlineMs: config.POLL_DEADLINE_MS,
    pollIntervalMs: config.POLL_INTERVAL_MS,
    backoff: { baseMs: config.BACKOFF_BASE_MS, maxMs: config.BACKOFF_MAX_MS },
    onProgress: progress?.update,
  });

  const shutdown = async (): Promise<void> => {
    await ingestor.stop();
    await Promise.allSettled([pool.close(), fetcher.close()]);
    await store.close();
  };
  let stopping: Promise<void> | undefined;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      log.info({ signal }, 'stopping');
      stopping ??= shutdown();
    });
  }

  log.info(
    {
      provider: config.PROVIDER_URL,
      dataDir: config.DATA_DIR,
      threads: config.PARSE_THREADS,
      once,
    },
    'ingestor starting',
  );
  await pool.warm();
  if (once) {
    const report = await ingestor.pollOnce();
    progress?.done();
    process.stdout.write(`${formatSummary(report)}\n`);
    stopping ??= shutdown();
    await stopping;
    return report.outcome === 'failed' ? 1 : 0;
  }
  await ingestor.run();
  stopping ??= shutdown();
  await stopping;
  log.info('stopped');
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const message =
      error instanceof SettingsError
        ? error.message
        : `ingestor failed: ${error instanceof Error ? error.message : String(error)}`;
    process.stderr.write(`${message}\n`);
    process.exitCode = 2;
  },
);
