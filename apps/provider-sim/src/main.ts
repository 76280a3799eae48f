#!/usr/bin/env node
import { SettingsError } from '@tessera/core';
import { runMain } from '@tessera/runtime';
import { createProviderSim } from '@tessera/simulator';
import { loadConfig } from './config.js';

runMain(
  'provider-sim',
  async () => {
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
    return { stop: () => sim.close() };
  },
  { isReadable: (error) => error instanceof SettingsError },
);
