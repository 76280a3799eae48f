#!/usr/bin/env node
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { SettingsError } from '@tessera/core';
import { readReplicationStatus } from '@tessera/replication/status';
import { checkDirectorySetting, packageVersion, runMain } from '@tessera/runtime';
import { openStoreReader } from '@tessera/store';
import { pino } from 'pino';
import { createAdminApp } from './admin-app.js';
import { type AppDeps, createApp } from './app.js';
import { clusterMetricsRenderer, runPrimary } from './cluster.js';
import {
  type ApiConfig,
  ApiConfigSchema,
  changesHeartbeatMs,
  loadConfig,
  serverTimeouts,
} from './config.js';
import { createMetrics } from './metrics.js';
import { probeListen, startServer } from './server.js';

runMain(
  'api',
  async () => {
    const config = loadConfig(process.env);
    checkDirectorySetting('DATA_DIR', config.DATA_DIR);
    const log = pino({ level: config.LOG_LEVEL, base: { service: 'api', pid: process.pid } });
    // Made here, before any fork, so that every worker accepts the cursors of the others.
    const cursorSecret = config.CURSOR_SECRET ?? randomBytes(32).toString('base64url');
    process.env.CURSOR_SECRET = cursorSecret;
    if (cluster.isPrimary && config.API_WORKERS > 1) {
      await probeListen(config.PORT, config.HOST);
      if (config.ADMIN_PORT !== undefined) await probeListen(config.ADMIN_PORT, config.HOST);
      return runPrimary({ workers: config.API_WORKERS, log });
    }
    // Opened after fork: an LMDB environment must not be shared across a fork. Read-only: the API
    // never starts a write transaction, so it never waits for the ingestor.
    const store = openStoreReader({ path: config.DATA_DIR });
    const replication = () => readReplicationStatus(config.DATA_DIR);
    const metrics = createMetrics(store, {
      maxLagMs: config.MAX_LAG_MS,
      staleAfterMs: config.STALE_AFTER_MS,
      replication,
    });
    const renderMetrics = cluster.isWorker ? clusterMetricsRenderer(metrics.registry) : undefined;
    const app = createApp({
      ...appSettings(config),
      store,
      replication,
      log,
      metrics,
      cursorSecret,
      renderMetrics,
    });
    const running = await startServer(app, config.PORT, config.HOST, serverTimeouts(config));
    log.info({ port: running.port, dataDir: config.DATA_DIR }, 'api listening');
    const admin =
      config.ADMIN_PORT === undefined
        ? undefined
        : await startServer(
            createAdminApp({
              store,
              log,
              metrics,
              renderMetrics: renderMetrics ?? (() => metrics.registry.metrics()),
              dataDir: config.DATA_DIR,
              token: config.ADMIN_TOKEN,
              staleAfterMs: config.STALE_AFTER_MS,
            }),
            config.ADMIN_PORT,
            config.HOST,
            serverTimeouts(config),
          );
    if (admin !== undefined) {
      log.info({ port: admin.port, actions: config.ADMIN_TOKEN !== undefined }, 'admin listening');
    }

    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> =>
      (stopping ??= (async () => {
        log.info('api stopping');
        // Streams and long-polls never end on their own: ended now, their clients resume elsewhere.
        app.changes.close();
        await Promise.all([
          running.close(config.SHUTDOWN_GRACE_MS),
          admin?.close(config.SHUTDOWN_GRACE_MS),
        ]);
        await store.close();
        log.info('api stopped');
      })());
    // A worker whose primary is gone has no one to stop it: it stops itself.
    cluster.worker?.on('disconnect', () => void stop().then(() => process.exit(0)));
    return { stop };
  },
  {
    isReadable: (error) => error instanceof SettingsError,
    cli: {
      name: 'tessera-api',
      summary:
        'serves /search, /events/{id} and the operational endpoints from the store in DATA_DIR',
      version: packageVersion(import.meta.url),
      settings: ApiConfigSchema.shape,
    },
  },
);

/** What createApp takes from the settings as they are. */
function appSettings(config: ApiConfig) {
  return {
    cacheMaxBytes: config.CACHE_MAX_BYTES,
    cacheMaxEntryBytes: config.CACHE_MAX_ENTRY_BYTES,
    scanConcurrency: config.SCAN_CONCURRENCY,
    scanEventsPerSecond: config.SCAN_EVENTS_PER_SECOND,
    staleAfterMs: config.STALE_AFTER_MS,
    maxLagMs: config.MAX_LAG_MS,
    slowRequestMs: config.SLOW_REQUEST_MS,
    operatorPathsElsewhere: config.ADMIN_PORT !== undefined,
    changeLimits: {
      maxSubscribers: config.CHANGES_MAX_SUBSCRIBERS,
      bufferBytes: config.CHANGES_BUFFER_BYTES,
      heartbeatMs: changesHeartbeatMs(config),
      watchMs: config.CHANGES_WATCH_MS,
    },
  } satisfies Partial<AppDeps>;
}
