#!/usr/bin/env node
import { SettingsError } from '@tessera/core';
import { loadConfig } from './config.js';
import { createProviderSim } from './provider-sim.js';

async function start(): Promise<void> {
  const config = loadConfig(process.env, process.argv.slice(2));
  const sim = createProviderSim({
    source: config.SIM_SOURCE,
    plan: config.SIM_PLAN,
    compress: config.SIM_GZIP,
    conditional: config.SIM_CONDITIONAL,
  });
  const url = await sim.listen(config.SIM_PORT, config.SIM_HOST);
  process.stdout.write(
    `${JSON.stringify({ service: 'provider-sim', msg: 'listening', url, source: config.SIM_SOURCE })}\n`,
  );
  const stop = (): void => {
    void sim.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

start().catch((error: unknown) => {
  const message =
    error instanceof SettingsError ? error.message : `provider-sim failed: ${String(error)}`;
  process.stderr.write(`${message}\n`);
  process.exit(2);
});
