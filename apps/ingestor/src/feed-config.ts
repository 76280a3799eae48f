import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createTimeZone, FEED_ID } from '@tessera/core';
import {
  BUILT_IN_FORMAT,
  describeFormat,
  type FeedFormat,
  MappingError,
  parseFeedFormat,
} from '@tessera/mapping';
import { z } from 'zod';

const isTimeZone = (name: string): boolean => {
  try {
    createTimeZone(name);
    return true;
  } catch {
    return false;
  }
};

/** One entry of FEEDS as written; unknown keys are refused (a typo must not pass silently). */
const FeedEntrySchema = z.strictObject({
  id: z.string().regex(FEED_ID, 'id must be lower-case letters, digits, - or _ (at most 64)'),
  url: z.url({ protocol: /^https?$/, error: 'url must be an http:// or https:// URL' }),
  timezone: z.string().refine(isTimeZone, 'timezone is not an IANA time zone').optional(),
  poll_interval_ms: z.number().int().min(1).optional(),
  headers: z.record(z.string(), z.string()).optional(),
  /** `fever` (the default), a mapping, or `@file` naming a JSON file that holds one: see docs/partners.md. */
  format: z.unknown().optional(),
});

/** A feed as the ingestor runs it. */
export interface FeedConfig {
  id: string;
  url: string;
  timeZone: string;
  pollIntervalMs: number;
  /** Sent with every request of this feed; values named `env:NAME` are read from the environment. */
  headers: Record<string, string>;
  format: FeedFormat;
}

export interface FeedDefaults {
  timeZone: string;
  pollIntervalMs: number;
}

/**
 * Parses FEEDS (a JSON array, inline or `@file`): every entry checked, ids unique, `env:`
 * header values resolved. Any fault is one message naming the entry, for the boot line.
 */
export function parseFeeds(
  text: string,
  defaults: FeedDefaults,
  env: Readonly<Record<string, string | undefined>>,
): FeedConfig[] {
  let raw: unknown;
  const file = text.startsWith('@') ? text.slice(1) : undefined;
  try {
    raw = JSON.parse(file === undefined ? text : readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`not JSON or a readable @file: ${(error as Error).message}`);
  }
  if (!Array.isArray(raw) || raw.length === 0) throw new Error('must be a non-empty JSON array');
  const seen = new Set<string>();
  return raw.map((entry, index) => {
    const parsed = FeedEntrySchema.safeParse(entry);
    const name = `entry ${index}${typeof entry?.id === 'string' ? ` (${entry.id})` : ''}`;
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
      throw new Error(`${name}: ${where}${issue?.message ?? 'invalid'}`);
    }
    const feed = parsed.data;
    if (seen.has(feed.id)) throw new Error(`${name}: the id ${feed.id} is used twice`);
    seen.add(feed.id);
    return {
      id: feed.id,
      url: feed.url,
      timeZone: feed.timezone ?? defaults.timeZone,
      pollIntervalMs: feed.poll_interval_ms ?? defaults.pollIntervalMs,
      headers: resolveHeaders(name, feed.headers ?? {}, env),
      format: readFormat(name, feed.format, file === undefined ? process.cwd() : dirname(file)),
    };
  });
}

/**
 * A feed's format, checked whole at boot: a fault names the feed and the mapping's field. An
 * `@file` is read relative to the FEEDS file that names it (or the working directory).
 */
function readFormat(name: string, raw: unknown, base: string): FeedFormat {
  let format = raw;
  if (typeof raw === 'string' && raw.startsWith('@')) {
    try {
      format = JSON.parse(readFileSync(resolve(base, raw.slice(1)), 'utf8'));
    } catch (error) {
      throw new Error(
        `${name}: format ${raw} is not JSON or a readable file: ${(error as Error).message}`,
      );
    }
  }
  try {
    return parseFeedFormat(format);
  } catch (error) {
    if (error instanceof MappingError) {
      const where = error.where === 'format' ? 'format' : `format.${error.where}`;
      throw new Error(`${name}: ${where}: ${error.message.slice(error.where.length + 2)}`, {
        cause: error,
      });
    }
    throw error;
  }
}

function resolveHeaders(
  name: string,
  headers: Record<string, string>,
  env: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const resolved: Record<string, string> = {};
  for (const [header, value] of Object.entries(headers)) {
    if (!value.startsWith('env:')) {
      resolved[header] = value;
      continue;
    }
    const variable = value.slice(4);
    const secret = env[variable];
    if (secret === undefined || secret === '') {
      throw new Error(`${name}: header ${header} names ${variable}, which is not set`);
    }
    resolved[header] = secret;
  }
  return resolved;
}

/**
 * A digest of what shapes the feeds' content: ids, URLs, time zones and formats, in id order. Cluster
 * nodes compare theirs, since each feed is polled with its current leader's configuration.
 * Poll intervals and headers stay out: nodes may differ on them (a token per node, say)
 * without changing what a feed holds, and a header may be a secret.
 */
export function digestFeeds(feeds: readonly FeedConfig[]): string {
  const shaping = [...feeds]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((f) =>
      // The built-in format adds nothing, so that a cluster's digest is what it was before formats.
      f.format === BUILT_IN_FORMAT
        ? [f.id, f.url, f.timeZone]
        : [f.id, f.url, f.timeZone, describeFormat(f.format)],
    );
  return shortDigest(JSON.stringify(shaping));
}

/**
 * The feed URL as validators record it: a digest, so that a secret in the URL (a query token)
 * never lands in the store, while another URL still never reuses them.
 */
export function digestUrl(url: string): string {
  return shortDigest(url);
}

/** 128 bits of SHA-256, base64url: names a text without showing it. */
function shortDigest(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}

/** The URL as logs and /feeds may show it: no credentials, query values hidden. */
export function redactUrl(url: string): string {
  const shown = new URL(url);
  shown.username = '';
  shown.password = '';
  for (const key of [...new Set(shown.searchParams.keys())]) shown.searchParams.set(key, '…');
  return shown.toString().replace(/%E2%80%A6/g, '…');
}
