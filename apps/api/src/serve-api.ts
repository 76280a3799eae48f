import cluster from 'node:cluster';
import { readReplicationStatus } from '@tessera/replication/status';
import type { Service } from '@tessera/runtime';
import { openStoreReader } from '@tessera/store';
import type { Logger } from 'pino';
import { createAdminApp } from './admin-app.js';
import { type AppDeps, createApp } from './app.js';
import { clusterMetricsRenderer } from './cluster.js';
import { type ApiConfig, changesHeartbeatMs, serverTimeouts } from './config.js';
import { createMetrics } from './metrics.js';
import { startServer } from './server.js';

/**
 * One serving process (a cluster worker, or the only process): opens the store, serves the app
 * and, if ADMIN_PORT is set, the admin app; stops both and closes the store when stopped.
 */
export async function serveApi(
  config: ApiConfig,
  log: Logger,
  cursorSecret: string,
): Promise<Service> {
  // Opened after fork: an LMDB environment must not be shared across a fork. Read-only: the API
  // never starts a write transaction, so it never waits for the ingestor.
  const store = openStoreReader({ path: config.DATA_DIR });
  const replication = () => readReplicationStatus(config.DATA_DIR);
  const metrics = createMetrics(store, {
    maxLagMs: config.MAX_LAG_MS,
    staleAfterMs: config.STALE_AFTER_MS,
    replication,
  });
  const renderMetrics = cluster.isWorker
    ? await clusterMetricsRenderer(metrics.registry)
    : undefined;
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
}

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
