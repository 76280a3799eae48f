import { availableParallelism } from 'node:os';
import { LOG_LEVELS, parseSettings } from '@tessera/core';
import { z } from 'zod';
import type { ServerTimeouts } from './server.js';

const ms = (fallback: number) => z.coerce.number().int().min(1).default(fallback);

export const ApiConfigSchema = z
  .object({
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
    /** Uncached /search scans past their first slice allowed at once, per process. */
    SCAN_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
    /** Events uncached /search scans may read per second, per process (a second's worth at once). */
    SCAN_EVENTS_PER_SECOND: z.coerce.number().int().min(1_000).default(250_000),
    /** A connection idle this long while its request is answered is closed (a client that stopped reading). */
    RESPONSE_IDLE_TIMEOUT_MS: ms(10_000),
    /** From a request's first byte to the end of its headers. */
    HEADERS_TIMEOUT_MS: ms(10_000),
    /** From a request's first byte to the end of its body. */
    REQUEST_TIMEOUT_MS: ms(30_000),
    /** An idle keep-alive connection; longer than a load balancer's usual 60 s, so that it closes first. */
    KEEP_ALIVE_TIMEOUT_MS: ms(65_000),
    /** Successful requests slower than this get an access-log line. */
    SLOW_REQUEST_MS: ms(1_000),
    /** Cluster mode: a follower further behind the cluster than this reports not ready. */
    MAX_LAG_MS: ms(30_000),
    /** /ready reports data older than this as stale. */
    STALE_AFTER_MS: z.coerce.number().int().min(1).default(300_000),
    /**
     * Authenticates /search page cursors. Unset, each start makes one that its workers share:
     * cursors then stop being accepted when the API restarts, and on another node. Set the same
     * value on every node behind one load balancer.
     */
    CURSOR_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
    /**
     * A second listener for operators: /metrics, /feeds and the actions on a feed. Set, the
     * first two leave the public port. Unset, they stay there and there are no actions.
     */
    ADMIN_PORT: z.coerce.number().int().min(0).max(65535).optional(),
    /**
     * The bearer token the admin port's actions require (compared in constant time). Unset,
     * the actions are off; /metrics and /feeds need none.
     */
    ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    /** Change streams and waiting long-polls of /changes one process serves at once (then 503). */
    CHANGES_MAX_SUBSCRIBERS: z.coerce.number().int().min(1).default(2_000),
    /** A change stream whose client leaves this many bytes unread is cut off (it resumes by token). */
    CHANGES_BUFFER_BYTES: z.coerce
      .number()
      .int()
      .min(64 * 1024)
      .default(1024 ** 2),
    /**
     * A comment line this often on every change stream, for proxies that close quiet
     * connections. Unset: 5 s, or half of RESPONSE_IDLE_TIMEOUT_MS when that is shorter.
     */
    CHANGES_HEARTBEAT_MS: z.coerce.number().int().min(1).optional(),
    /** While anyone follows /changes, how often the store is looked at for a new write. */
    CHANGES_WATCH_MS: ms(10),
    /** How long SIGTERM waits for in-flight requests before closing connections. */
    SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
  })
  // A stream quiet for the idle timeout is cut off: its heartbeat must come first.
  .refine((c) => (c.CHANGES_HEARTBEAT_MS ?? 0) < c.RESPONSE_IDLE_TIMEOUT_MS, {
    path: ['CHANGES_HEARTBEAT_MS'],
    message: 'must be less than RESPONSE_IDLE_TIMEOUT_MS',
  })
  // Node refuses a request timeout shorter than the headers timeout.
  .refine((c) => c.HEADERS_TIMEOUT_MS <= c.REQUEST_TIMEOUT_MS, {
    path: ['HEADERS_TIMEOUT_MS'],
    message: 'must not exceed REQUEST_TIMEOUT_MS',
  });

export type ApiConfig = z.infer<typeof ApiConfigSchema>;

export function loadConfig(env: Readonly<Record<string, string | undefined>>): ApiConfig {
  return parseSettings(ApiConfigSchema, env);
}

/** The change streams' heartbeat: as set, or 5 s, or half the idle timeout when that is shorter. */
export function changesHeartbeatMs(config: ApiConfig): number {
  return (
    config.CHANGES_HEARTBEAT_MS ?? Math.min(5_000, Math.floor(config.RESPONSE_IDLE_TIMEOUT_MS / 2))
  );
}

export function serverTimeouts(config: ApiConfig): ServerTimeouts {
  return {
    headersMs: config.HEADERS_TIMEOUT_MS,
    requestMs: config.REQUEST_TIMEOUT_MS,
    keepAliveMs: config.KEEP_ALIVE_TIMEOUT_MS,
    idleMs: config.RESPONSE_IDLE_TIMEOUT_MS,
  };
}
