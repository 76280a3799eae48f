import { availableParallelism } from 'node:os';
import { LOG_LEVELS, parseSettings } from '@tessera/core';
import { z } from 'zod';

export const ApiConfigSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATA_DIR: z.string().min(1).default('./data'),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  API_WORKERS: z.coerce.number().int().min(1).max(64).default(availableParallelism()),
  /** Total bytes of /search bodies kept in each worker's response cache. */
  CACHE_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(0)
    .default(96 * 1024 ** 2),
  /**
   * Bodies larger than this are streamed from the range scan and not cached, which bounds memory
   * per request. The default holds a query without parameters over ~100k events (~20 MB).
   */
  CACHE_MAX_ENTRY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(32 * 1024 ** 2),
  /** /ready reports data older than this as stale. */
  STALE_AFTER_MS: z.coerce.number().int().min(1).default(300_000),
  /** How long SIGTERM waits for in-flight requests before closing connections. */
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
});

export type ApiConfig = z.infer<typeof ApiConfigSchema>;

export function loadConfig(env: Readonly<Record<string, string | undefined>>): ApiConfig {
  return parseSettings(ApiConfigSchema, env);
}
