import { hostname } from 'node:os';
import { createTimeZone, FEED_ID, LOG_LEVELS, parseSettings, SettingsError } from '@tessera/core';
import { BUILT_IN_FORMAT } from '@tessera/mapping';
import { NatsServersSchema } from '@tessera/replication';
import { ChangeRetentionSchema, DEFAULT_CHANGE_RETENTION } from '@tessera/store';
import { z } from 'zod';
import { type FeedConfig, parseFeeds } from './feed-config.js';

const ms = (fallback: number) => z.coerce.number().int().min(1).default(fallback);
const bytes = (fallback: number) => z.coerce.number().int().min(1024).default(fallback);

export const IngestorConfigSchema = z.object({
  PROVIDER_URL: z
    .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
    .default('https://provider.code-challenge.feverup.com/api/events'),
  /**
   * Several feeds: a JSON array (inline or `@file`) of {id, url, timezone?, poll_interval_ms?,
   * headers?}; see feed-config.ts. Unset: the one feed PROVIDER_URL describes.
   */
  FEEDS: z.string().optional(),
  /**
   * Part of every event's identity: two providers may reuse the same ids. Also the id a store of
   * one feed from before FEEDS gives its feed (its events carry it already).
   */
  PROVIDER_ID: z.string().regex(FEED_ID).default('feverup'),
  PROVIDER_TIMEZONE: z
    .string()
    .default('UTC')
    .refine((name) => {
      try {
        createTimeZone(name);
        return true;
      } catch {
        return false;
      }
    }, 'not an IANA time zone'),
  DATA_DIR: z.string().min(1).default('./data'),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  POLL_INTERVAL_MS: ms(30_000),
  BACKOFF_BASE_MS: ms(1_000),
  BACKOFF_MAX_MS: ms(300_000),
  CONNECT_TIMEOUT_MS: ms(5_000),
  HEADERS_TIMEOUT_MS: ms(15_000),
  BODY_IDLE_TIMEOUT_MS: ms(15_000),
  POLL_DEADLINE_MS: ms(600_000),
  MAX_FEED_BYTES: bytes(2 * 1024 ** 3),
  PARSE_THREADS: z.coerce.number().int().min(1).max(64).default(2),
  /**
   * CPU niceness of the ingestor (0–19). Parsing a big feed can use every core; on a machine it
   * shares with the API, a positive value lets /search latency win over ingest speed.
   */
  INGEST_NICE: z.coerce.number().int().min(0).max(19).default(10),
  /** Consecutive polls failed by the store (not the partner) after which the ingestor exits. */
  STORE_FAILURE_LIMIT: z.coerce.number().int().min(1).default(5),
  /**
   * The pieces of feed handed to parse threads, two per thread in flight. Half a MiB: the main
   * thread's allocator keeps the pages the pieces pass through, and 1 MiB ones held the 1 GB
   * ingest's parse ~9 MiB higher (peak RSS 190–197 against 185–192 MiB in alternating runs, the
   * same speed and decode time).
   */
  CHUNK_BYTES: bytes(512 * 1024),
  /**
   * How much of the change log (GET /changes) the store keeps: a count of changes or a duration
   * (7d). A consumer further behind than this lists /search again.
   */
  CHANGES_RETENTION: ChangeRetentionSchema.default(DEFAULT_CHANGE_RETENTION),
  /**
   * Cluster mode: the NATS servers (comma-separated). Absent, the node runs alone and nothing of
   * NATS runs.
   */
  NATS_URL: NatsServersSchema.optional(),
  /** Cluster mode: how long the feed lease lasts without renewal; a dead leader's successor takes over within two. */
  LEASE_MS: z.coerce.number().int().min(300).default(10_000),
  /** Cluster mode: this node's name in the lease and the logs. */
  NODE_ID: z
    .string()
    .regex(/^[\w.-]{1,64}$/)
    .default(() => `${hostname()}-${process.pid}`),
  MAX_ELEMENT_BYTES: bytes(16 * 1024 ** 2),
});

export type IngestorConfig = z.infer<typeof IngestorConfigSchema> & {
  /** FEEDS, or the one feed PROVIDER_URL, PROVIDER_ID and PROVIDER_TIMEZONE describe. */
  feeds: FeedConfig[];
};

export function loadConfig(env: Readonly<Record<string, string | undefined>>): IngestorConfig {
  const config = parseSettings(IngestorConfigSchema, env);
  const defaults = { timeZone: config.PROVIDER_TIMEZONE, pollIntervalMs: config.POLL_INTERVAL_MS };
  if (config.FEEDS === undefined) {
    return {
      ...config,
      feeds: [
        {
          id: config.PROVIDER_ID,
          url: config.PROVIDER_URL,
          ...defaults,
          headers: {},
          format: BUILT_IN_FORMAT,
        },
      ],
    };
  }
  try {
    return { ...config, feeds: parseFeeds(config.FEEDS, defaults, env) };
  } catch (error) {
    throw new SettingsError(`invalid setting FEEDS: ${(error as Error).message}`);
  }
}
