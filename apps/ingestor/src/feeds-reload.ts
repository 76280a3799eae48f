import { unwatchFile, watchFile } from 'node:fs';
import type { Logger } from 'pino';
import { type IngestorConfig, loadConfig } from './config.js';
import type { FeedConfig } from './feed-config.js';
import type { FeedChanges } from './feed-set.js';

/** What runs the feeds: a single node's feed set, or a cluster node's leaders. */
export interface ReloadTarget {
  reload(feeds: readonly FeedConfig[]): Promise<FeedChanges>;
}

/** How often a FEEDS file is looked at: stat polling sees a ConfigMap's symlink swap too. */
const WATCH_INTERVAL_MS = 1_000;

/**
 * Reloads FEEDS into the running feed set on SIGHUP, and when FEEDS names a file (`@path`) that
 * changes. The settings are read again whole; a FEEDS that fails validation changes nothing and
 * is logged with the reason, the running feeds go on. Returns the function that stops watching.
 */
export function reloadFeedsOnChange(
  env: Readonly<Record<string, string | undefined>>,
  feeds: ReloadTarget,
  log: Logger,
): () => void {
  let reloading = Promise.resolve();
  const reload = (why: string): void => {
    reloading = reloading.then(() => reloadFeeds(env, feeds, log, why));
  };
  const onHangup = (): void => reload('SIGHUP');
  process.on('SIGHUP', onHangup);
  const file = env.FEEDS?.startsWith('@') ? env.FEEDS.slice(1) : undefined;
  const onFileChange = (now: { mtimeMs: number }, before: { mtimeMs: number }): void => {
    if (now.mtimeMs !== before.mtimeMs) reload(`${file} changed`);
  };
  if (file !== undefined) watchFile(file, { interval: WATCH_INTERVAL_MS }, onFileChange);
  return () => {
    process.off('SIGHUP', onHangup);
    if (file !== undefined) unwatchFile(file, onFileChange);
  };
}

async function reloadFeeds(
  env: Readonly<Record<string, string | undefined>>,
  feeds: ReloadTarget,
  log: Logger,
  why: string,
): Promise<void> {
  let config: IngestorConfig;
  try {
    config = loadConfig(env);
  } catch (error) {
    log.error(
      { why, reason: (error as Error).message },
      'FEEDS reload refused; the running feeds go on',
    );
    return;
  }
  const changes = await feeds.reload(config.feeds);
  log.info({ why, ...changes }, 'FEEDS reloaded');
}
