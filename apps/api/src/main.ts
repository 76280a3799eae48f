#!/usr/bin/env node
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { SettingsError } from '@tessera/core';
import { checkDirectorySetting, packageVersion, runMain } from '@tessera/runtime';
import { pino } from 'pino';
import { runPrimary } from './cluster.js';
import { ApiConfigSchema, loadConfig } from './config.js';
import { probeListen } from './server.js';

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
    // The primary serves nothing: the app's modules (Koa, the store, every schema) are loaded
    // where they serve, or the primary's import of them would delay every worker's fork.
    const { serveApi } = await import('./serve-api.js');
    return serveApi(config, log, cursorSecret);
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
