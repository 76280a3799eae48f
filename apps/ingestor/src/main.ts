#!/usr/bin/env node
import { setPriority } from 'node:os';
import { SettingsError } from '@tessera/core';
import {
  BootError,
  checkDirectorySetting,
  packageVersion,
  peakRssBytes,
  runMain,
  type Service,
} from '@tessera/runtime';
import { backupStore, openStoreWriter } from '@tessera/store';
import { type DestinationStream, type Logger, pino } from 'pino';
import { runBackup } from './backup-command.js';
import { runClusterMode } from './cluster-mode.js';
import { IngestorConfigSchema, loadConfig } from './config.js';
import { createFeedFetcher } from './feed-fetcher.js';
import { storeSink } from './feed-sink.js';
import { createIngestor, formatSummary, type IngestorDeps } from './ingestor.js';
import { createParserPool } from './parser-pool.js';
import { createProgress } from './progress.js';

runMain(
  'ingestor',
  async ({ command, argument, flags }): Promise<Service> => {
    const once = flags.has('--once');
    const json = flags.has('--json');
    const config = loadConfig(process.env);
    checkDirectorySetting('DATA_DIR', config.DATA_DIR);
    if (command === 'backup') {
      const target = argument as string;
      return runBackup(() => backupStore(config.DATA_DIR, target), target, json);
    }
    const cluster = config.NATS_URL;
    if (once && cluster !== undefined) {
      throw new BootError(
        "ingestor cannot start: --once polls into this node's store alone, and NATS_URL makes it a cluster node (unset NATS_URL)",
      );
    }
    // A command-line run writes its result to stdout: its logs go to stderr, around the
    // progress line when stderr is a terminal. A daemon logs to stdout, as services do.
    const progress =
      once && !json && process.stderr.isTTY ? createProgress(process.stderr) : undefined;
    const destination: DestinationStream =
      progress?.logStream ?? pino.destination({ dest: once ? 2 : 1, sync: true });
    const log = pino({ level: config.LOG_LEVEL, base: { service: 'ingestor' } }, destination);
    // Before the workers start: threads inherit the priority of the thread that creates them.
    lowerPriority(config.INGEST_NICE, log);
    const store = openStoreWriter({ path: config.DATA_DIR });
    const pool = createParserPool({
      threads: config.PARSE_THREADS,
      onWorkerError: (err) => log.error({ err }, 'a parse worker failed between tasks'),
    });
    const fetcher = createFeedFetcher({
      url: config.PROVIDER_URL,
      connectTimeoutMs: config.CONNECT_TIMEOUT_MS,
      headersTimeoutMs: config.HEADERS_TIMEOUT_MS,
      bodyIdleTimeoutMs: config.BODY_IDLE_TIMEOUT_MS,
      maxFeedBytes: config.MAX_FEED_BYTES,
    });
    const deps: Omit<IngestorDeps, 'store'> = {
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
      storeFailureLimit: config.STORE_FAILURE_LIMIT,
      onProgress: progress?.update,
    };
    const release = async (): Promise<void> => {
      await Promise.allSettled([pool.close(), fetcher.close()]);
      await store.close();
      log.info('stopped');
    };

    log.info(
      {
        provider: config.PROVIDER_URL,
        dataDir: config.DATA_DIR,
        threads: config.PARSE_THREADS,
        once,
        cluster: cluster ?? null,
      },
      'ingestor starting',
    );
    await pool.warm();
    if (cluster !== undefined) {
      return runClusterMode({ ...config, NATS_URL: cluster }, store, deps, log, release);
    }

    const ingestor = createIngestor({ ...deps, store: storeSink(store) });
    let closing: Promise<void> | undefined;
    const close = (): Promise<void> =>
      (closing ??= (async () => {
        await ingestor.stop();
        await release();
      })());
    if (once) {
      const done = ingestor.pollOnce().then(async (report) => {
        const peakRssMb = Math.round(peakRssBytes() / 1024 ** 2);
        await close();
        progress?.done();
        process.stdout.write(
          `${json ? JSON.stringify({ ...report, peakRssMb }) : formatSummary(report, peakRssMb)}\n`,
        );
        return report.outcome === 'failed' ? 1 : 0;
      });
      return { done, stop: close };
    }
    const done = ingestor.run().then(
      async () => {
        await close();
        return 0;
      },
      async (error: unknown) => {
        await close();
        throw error;
      },
    );
    return { done, stop: close };
  },
  {
    isReadable: (error) => error instanceof SettingsError,
    cli: {
      name: 'tessera-ingestor',
      summary: 'polls the partner feed and keeps every event it ever offered online in DATA_DIR',
      version: packageVersion(import.meta.url),
      commands: {
        backup: {
          argument: '<dir>',
          summary:
            'copy the store (LMDB copy, compacted, consistent while the daemon runs) into a new directory',
        },
      },
      flags: {
        '--once': { summary: 'poll once, print a one-line summary on stdout, exit 0 on success' },
        '--json': { summary: 'with --once or backup: print the result as one JSON document' },
      },
      settings: IngestorConfigSchema.shape,
    },
  },
);

function lowerPriority(nice: number, log: Logger): void {
  if (nice === 0) return;
  try {
    setPriority(nice);
  } catch (error) {
    log.warn({ err: error }, 'could not lower the ingestor CPU priority');
  }
}
