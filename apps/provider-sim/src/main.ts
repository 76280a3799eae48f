#!/usr/bin/env node
import { SettingsError } from '@tessera/core';
import { listenError, packageVersion, runMain } from '@tessera/runtime';
import { createProviderSim } from '@tessera/simulator';
import { loadConfig, SIM_FLAGS, SimConfigSchema } from './config.js';

runMain(
  'provider-sim',
  async ({ flags }) => {
    const config = loadConfig(process.env, flags);
    const sim = createProviderSim({
      source: config.SIM_SOURCE,
      plan: config.SIM_PLAN,
      compress: config.SIM_GZIP,
      conditional: config.SIM_CONDITIONAL,
    });
    const url = await sim
      .listen(config.SIM_PORT, config.SIM_HOST)
      .catch((error: unknown) =>
        Promise.reject(listenError(error, config.SIM_HOST, config.SIM_PORT)),
      );
    process.stdout.write(
      `${JSON.stringify({ service: 'provider-sim', msg: 'listening', url, source: config.SIM_SOURCE })}\n`,
    );
    return { stop: () => sim.close() };
  },
  {
    isReadable: (error) => error instanceof SettingsError,
    cli: {
      name: 'tessera-provider-sim',
      summary: 'serves a stand-in partner feed (fixtures, generated or given) with scripted faults',
      version: packageVersion(import.meta.url),
      flags: SIM_FLAGS,
      settings: SimConfigSchema.shape,
    },
  },
);
