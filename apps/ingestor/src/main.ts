#!/usr/bin/env node
import { setPriority } from 'node:os';
import { SettingsError } from '@tessera/core';
import { listenForActions } from '@tessera/operator';
import {
  BootError,
  checkDirectorySetting,
  packageVersion,
  peakRssBytes,
  runMain,
  type Service,
} from '@tessera/runtime';
import { backupStore, openStoreWriter, type StoreWriter } from '@tessera/store';
import { type DestinationStream, type Logger, pino } from 'pino';
import { runBackup } from './backup-command.js';
import { runClusterMode } from './cluster-mode.js';
import { type IngestorConfig, IngestorConfigSchema, loadConfig } from './config.js';
import { redactUrl } from './feed-config.js';
import { formatSummary } from './feed-loop.js';
import type { PollReport } from './feed-poll.js';
import { createFeedSet, type FetchLimits, type SharedDeps } from './feed-set.js';
import { reloadFeedsOnChange } from './feeds-reload.js';
import { createActionHandler } from './operator-actions.js';
import { createParserPool, type ParserPool } from './parser-pool.js';
import { formatPreview, previewFeed } from './preview-command.js';
import { createProgress } from './progress.js';

runMain(
  'ingestor',
  async ({ command, argument, flags }): Promise<Service> => {
    const once = flags.has('--once');
    const json = flags.has('--json');
    const config = loadConfig(process.env);
    if (command === 'preview') return runPreview(config, argument as string, flags);
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
    const store = openStoreWriter({
      path: config.DATA_DIR,
      legacyFeed: config.PROVIDER_ID,
      changeRetention: config.CHANGES_RETENTION,
    });
    const pool = createParserPool({
      threads: config.PARSE_THREADS,
      onWorkerError: (err) => log.error({ err }, 'a parse worker failed between tasks'),
    });
    const limits = fetchLimits(config);
    const shared: SharedDeps = { ...sharedDeps(config, pool, log), onProgress: progress?.update };
    const release = async (): Promise<void> => {
      await pool.close().catch(() => {});
      await store.close();
      log.info('stopped');
    };
    // Feeds left out of FEEDS keep their records and events: /feeds shows them unconfigured.
    store.configureFeeds(config.feeds.map((f) => ({ id: f.id, url: redactUrl(f.url) })));

    log.info(
      {
        feeds: config.feeds.map((f) => ({ id: f.id, url: redactUrl(f.url) })),
        dataDir: config.DATA_DIR,
        threads: config.PARSE_THREADS,
        once,
        cluster: cluster ?? null,
      },
      'ingestor starting',
    );
    await pool.warm();
    if (cluster !== undefined) {
      return runClusterMode(
        { ...config, NATS_URL: cluster },
        store,
        shared,
        limits,
        log,
        release,
        process.env,
      );
    }

    return runSingleNode(config, store, shared, limits, log, release, { once, json, progress });
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
        preview: {
          argument: '<feed>',
          summary:
            'poll one feed of FEEDS (or read --file) through its format, print its first events, counts and faults by field; writes nothing',
        },
      },
      flags: {
        '--file': {
          value: '<path>',
          summary: "with preview: read the partner's answer from a file (.gz: gzipped)",
        },
        '--limit': { value: '<n>', summary: 'with preview: how many events to print (default 5)' },
        '--once': { summary: 'poll once, print a one-line summary on stdout, exit 0 on success' },
        '--json': {
          summary: 'with --once, backup or preview: print the result as one JSON document',
        },
      },
      settings: IngestorConfigSchema.shape,
    },
  },
);

/**
 * What `--once` prints: one feed configured the old way, its summary line or report, as before;
 * FEEDS, one line per feed (`id: summary`) or a JSON array of reports with their feed ids.
 */
function formatOnce(
  results: Array<{ feed: string; report: PollReport }>,
  peakRssMb: number,
  json: boolean,
  several: boolean,
): string {
  if (!several) {
    const { report } = results[0] as { report: PollReport };
    return json ? JSON.stringify({ ...report, peakRssMb }) : formatSummary(report, peakRssMb);
  }
  if (json)
    return JSON.stringify(results.map(({ feed, report }) => ({ feed, ...report, peakRssMb })));
  return results
    .map(({ feed, report }) => `${feed}: ${formatSummary(report, peakRssMb)}`)
    .join('\n');
}

function lowerPriority(nice: number, log: Logger): void {
  if (nice === 0) return;
  try {
    setPriority(nice);
  } catch (error) {
    log.warn({ err: error }, 'could not lower the ingestor CPU priority');
  }
}

/** `preview <feed>`: see preview-command.ts. Exit 0 when the document was read, 1 when not. */
function runPreview(
  config: IngestorConfig,
  id: string,
  flags: Map<string, string | true>,
): Service {
  const feed = config.feeds.find((f) => f.id === id);
  if (feed === undefined) {
    throw new BootError(
      `ingestor cannot preview ${id}: no such feed in FEEDS (${config.feeds.map((f) => f.id).join(', ')})`,
    );
  }
  const limit = Number(flags.get('--limit') ?? 5);
  if (!Number.isInteger(limit) || limit < 0) throw new BootError('--limit must be a whole number');
  const file = flags.get('--file');
  // What the poll would log (each rejection, say) is what the preview prints: errors only.
  const log = pino({ level: 'error' }, pino.destination(2));
  const pool = createParserPool({ threads: config.PARSE_THREADS });
  const shared = sharedDeps(config, pool, log);
  const limits = fetchLimits(config);
  const done = previewFeed(feed, shared, limits, {
    file: typeof file === 'string' ? file : undefined,
    limit,
  })
    .then((preview) => {
      const json = flags.has('--json');
      process.stdout.write(`${json ? JSON.stringify(preview) : formatPreview(preview)}\n`);
      return preview.report.outcome === 'failed' ? 1 : 0;
    })
    .finally(() => pool.close());
  return { done, stop: () => done.then(() => undefined) };
}

/** What every feed's polls share, from the settings. */
function sharedDeps(config: IngestorConfig, pool: ParserPool, log: Logger): SharedDeps {
  return {
    pool,
    log,
    chunkBytes: config.CHUNK_BYTES,
    maxElementBytes: config.MAX_ELEMENT_BYTES,
    deadlineMs: config.POLL_DEADLINE_MS,
    backoff: { baseMs: config.BACKOFF_BASE_MS, maxMs: config.BACKOFF_MAX_MS },
    storeFailureLimit: config.STORE_FAILURE_LIMIT,
  };
}

function fetchLimits(config: IngestorConfig): FetchLimits {
  return {
    connectTimeoutMs: config.CONNECT_TIMEOUT_MS,
    headersTimeoutMs: config.HEADERS_TIMEOUT_MS,
    bodyIdleTimeoutMs: config.BODY_IDLE_TIMEOUT_MS,
    maxFeedBytes: config.MAX_FEED_BYTES,
  };
}

/**
 * One node alone: a loop per feed of FEEDS, or (--once) one poll of each and a summary on stdout.
 * A daemon takes operator actions (through the API's admin port) and FEEDS reloads.
 */
async function runSingleNode(
  config: IngestorConfig,
  store: StoreWriter,
  shared: SharedDeps,
  limits: FetchLimits,
  log: Logger,
  release: () => Promise<void>,
  run: { once: boolean; json: boolean; progress: ReturnType<typeof createProgress> | undefined },
): Promise<Service> {
  const { once, json, progress } = run;
  const feeds = createFeedSet(config.feeds, store, shared, limits);
  const control = once
    ? undefined
    : await listenForActions(
        config.DATA_DIR,
        createActionHandler(
          {
            loopOf: feeds.loop,
            recordPaused: (feed, paused) => store.recordPaused(feed, paused),
            node: config.NODE_ID,
          },
          log,
        ),
      );
  const stopReloading = once ? undefined : reloadFeedsOnChange(process.env, feeds, log);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      stopReloading?.();
      await control?.close();
      await feeds.stop();
      await release();
    })());
  if (once) {
    const done = feeds.pollOnce().then(async (results) => {
      const peakRssMb = Math.round(peakRssBytes() / 1024 ** 2);
      await close();
      progress?.done();
      process.stdout.write(`${formatOnce(results, peakRssMb, json, config.FEEDS !== undefined)}\n`);
      return results.some((r) => r.report.outcome === 'failed') ? 1 : 0;
    });
    return { done, stop: close };
  }
  const done = feeds.run().then(
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
}
