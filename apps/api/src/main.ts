#!/usr/bin/env node
import cluster from 'node:cluster';
import { SettingsError } from '@tessera/core';
import { openStore } from '@tessera/store';
import { pino } from 'pino';
import { createApp } from './app.js';
import { clusterMetricsRenderer, runPrimary } from './cluster.js';
import { loadConfig } from './config.js';
import { createMetrics } from './metrics.js';
import { startServer } from './server.js';

async function start(): Promise<void> {
  const config = loadConfig(process.env);
  const log = pino({ level: config.LOG_LEVEL, base: { service: 'api', pid: process.pid } });

  if (cluster.isPrimary && config.API_WORKERS > 1) {
    runPrimary({ workers: config.API_WORKERS, log });
    return;
  }

  // Opened after fork: an LMDB environment must not be shared across a fork.
  const store = openStore({ path: config.DATA_DIR });
  const metrics = createMetrics(store);
  const app = createApp({
    store,
    log,
    metrics,
    cacheMaxBytes: config.CACHE_MAX_BYTES,
    cacheMaxEntryBytes: config.CACHE_MAX_ENTRY_BYTES,
    staleAfterMs: config.STALE_AFTER_MS,
    renderMetrics: cluster.isWorker ? clusterMetricsRenderer(metrics.registry) : undefined,
  });
  const running = await startServer(app, config.PORT, config.HOST);
  log.info({ port: running.port, dataDir: config.DATA_DIR }, 'api listening');

  let stopping = false;
  const stop = async (reason: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ reason }, 'api stopping');
    await running.close(config.SHUTDOWN_GRACE_MS);
    await store.close();
    log.info('api stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  if (cluster.isWorker) cluster.worker?.on('disconnect', () => void stop('primary disconnected'));
}

start().catch((error: unknown) => {
  const message =
    error instanceof SettingsError
      ? error.message
      : `api failed to start: ${error instanceof Error ? error.message : String(error)}`;
  process.stderr.write(`${message}\n`);
  process.exit(2);
});
