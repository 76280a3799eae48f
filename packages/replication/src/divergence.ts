import type { JetStreamManager } from '@nats-io/jetstream';
import type { StoreWriter } from '@tessera/store';
import type { Logger } from 'pino';
import type { BatchApplier } from './batch-applier.js';
import { readPosition } from './cluster-position.js';
import { retry } from './cluster-setup.js';
import { FEED_STREAM } from './feed-message.js';
import type { StatusReporter } from './status-reporter.js';

/**
 * Feeds found to differ from the cluster's: each is re-synced from its latest checkpoint, and
 * the status says the node diverged (so the API reports it not ready) until every such feed's
 * digest matched its leader's again.
 */
export interface Divergence {
  resync(feed: string, message: string): Promise<void>;
  /** A feed's digest matched the one its leader sent. */
  verified(feed: string): void;
}

export function trackDivergence(
  reporter: StatusReporter,
  applier: BatchApplier,
  log: Logger,
): Divergence {
  const { status } = reporter;
  const diverged = new Set<string>();
  return {
    async resync(feed, message) {
      log.error(
        { code: 'state_diverged', feed },
        `state_diverged: ${message}; re-syncing feed ${feed} from its latest checkpoint`,
      );
      diverged.add(feed);
      status.diverged = { since: status.diverged?.since ?? Date.now(), message };
      reporter.write();
      await applier.resync(feed);
    },
    verified(feed) {
      if (!diverged.delete(feed) || diverged.size > 0 || status.diverged === null) return;
      log.info(
        { divergedMs: Date.now() - status.diverged.since },
        'every digest matches the cluster again: re-synced',
      );
      status.diverged = null;
    },
  };
}

/**
 * Once per start, a scan: a store altered while its ingestor was stopped has stored digests that
 * no longer describe its events. Such a feed must not be served, nor led, before it re-synced.
 */
export async function verifyAtBoot(
  store: StoreWriter,
  jsm: JetStreamManager,
  signal: AbortSignal,
  log: Logger,
  divergence: Divergence,
): Promise<void> {
  const { feeds } = store.verifyDigest();
  if (readPosition(store) === null || feeds.length === 0) return;
  const info = await retry(() => jsm.streams.info(FEED_STREAM), signal, log);
  if (info.state.messages === 0) {
    log.error(
      { code: 'state_diverged', feeds },
      'the store was altered, and the stream holds nothing to re-sync from: serving it as it is',
    );
    return;
  }
  for (const feed of feeds) {
    await divergence.resync(
      feed,
      `the events of feed ${feed} were altered while the ingestor was stopped`,
    );
  }
}
