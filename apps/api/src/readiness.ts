import type { FeedState, FeedView, StoreView } from '@tessera/store';
import type { Logger } from 'pino';
import { ApiError } from './api-error.js';
import {
  type ReplicationSource,
  type ReplicationView,
  viewReplication,
} from './replication-view.js';

export interface ReadinessLimits {
  maxLagMs: number;
  staleAfterMs: number;
}

const iso = (at: number | null): string | null => (at === null ? null : new Date(at).toISOString());

/** The feeds /ready and /feeds speak of: the configured ones (all, if none is marked so). */
export function configuredFeeds(store: StoreView): FeedView[] {
  const feeds = store.feeds();
  const configured = feeds.filter((f) => f.configured);
  return configured.length > 0 ? configured : feeds;
}

const isFresh = (state: FeedState, now: number, staleAfterMs: number): boolean =>
  state.lastSuccessAt !== null && now - state.lastSuccessAt <= staleAfterMs;

const latest = (values: Array<number | null>): number | null =>
  values.reduce<number | null>((a, b) => (b !== null && (a === null || b > a) ? b : a), null);

/** What /ready reads, at once. */
interface ReadyStatus {
  feeds: FeedView[];
  events: number;
  version: number;
  digest: string | null;
  cluster: ReplicationView;
}

function readStatus(
  store: StoreView,
  replication: ReplicationSource,
  now: number,
  maxLagMs: number,
): ReadyStatus {
  try {
    return {
      feeds: configuredFeeds(store),
      events: store.count(),
      version: store.head().version,
      digest: store.digest(),
      cluster: viewReplication(replication(), now, maxLagMs),
    };
  } catch (cause) {
    throw new ApiError('store_unavailable', 'the store cannot be read', { cause });
  }
}

/**
 * Throws the refusal that says why this node is not ready: no feed applied yet (and what each
 * feed's last polls met, since when), content being re-synced, or lag past MAX_LAG_MS. Returns
 * when the last feed was applied.
 */
function refuseUnready({ feeds, cluster }: ReadyStatus, maxLagMs: number): number {
  const lastSuccessAt = latest(feeds.map((f) => f.state.lastSuccessAt));
  if (lastSuccessAt === null) {
    const why =
      feeds.length === 0
        ? 'the first poll has not ended yet'
        : feeds.length === 1
          ? pollsSoFar((feeds[0] as FeedView).state)
          : feeds.map((f) => `feed ${f.id}: ${pollsSoFar(f.state)}`).join('; ');
    throw new ApiError('not_ready', `no feed has been applied to the store yet: ${why}`);
  }
  if (cluster.diverged !== null) {
    throw new ApiError(
      'state_diverged',
      `this node's content differs from the cluster's and is being re-synced: ${cluster.diverged}`,
    );
  }
  if (!cluster.ready) {
    throw new ApiError(
      'not_ready',
      `this node lags ${Math.round(cluster.lagMs / 1000)} s behind the cluster (MAX_LAG_MS is ${maxLagMs})`,
    );
  }
  return lastSuccessAt;
}

/**
 * The /ready answer, or the refusal that says why (see refuseUnready), or `store_unavailable`
 * for an unreadable store. Ready once any feed has applied; the feeds that are failing or stale
 * are listed.
 */
export function readyBody(
  store: StoreView,
  replication: ReplicationSource,
  now: number,
  limits: ReadinessLimits,
) {
  const status = readStatus(store, replication, now, limits.maxLagMs);
  const lastSuccessAt = refuseUnready(status, limits.maxLagMs);
  const { feeds, events, version, digest, cluster } = status;
  const stale = feeds.filter((f) => !isFresh(f.state, now, limits.staleAfterMs));
  const failing = feeds.filter((f) => f.state.consecutiveFailures > 0);
  const worst = [...failing].sort(
    (a, b) => b.state.consecutiveFailures - a.state.consecutiveFailures,
  )[0];
  const oldest = Math.min(...feeds.map((f) => f.state.lastSuccessAt ?? lastSuccessAt));
  return {
    data: {
      status: 'ready',
      role: cluster.role,
      events,
      version,
      state_digest: digest,
      fresh: stale.length === 0,
      last_success_at: iso(lastSuccessAt),
      age_seconds: Math.round(Math.max(0, now - oldest) / 1000),
      last_attempt_at: iso(latest(feeds.map((f) => f.state.lastAttemptAt))),
      consecutive_failures: worst?.state.consecutiveFailures ?? 0,
      last_error_code: worst?.state.lastErrorCode ?? null,
      failing_feeds: failing.map((f) => ({
        id: f.id,
        last_error_code: f.state.lastErrorCode,
        consecutive_failures: f.state.consecutiveFailures,
        failing_since: iso(f.state.failingSince),
      })),
      stale_feeds: stale.map((f) => f.id),
      ...(cluster.role === 'single'
        ? {}
        : {
            replication: cluster.replication,
            leading_feeds: cluster.leading,
            applied_sequence: cluster.appliedSequence,
            latest_sequence: cluster.latestSequence,
            lag_ms: cluster.lagMs,
            config_differs_on: cluster.configDiffers,
          }),
    },
    error: null,
  };
}

/** GET /feeds: every feed the store knows, with its freshness and its last runs. */
export function feedsBody(store: StoreView, now: number, staleAfterMs: number) {
  let feeds: FeedView[];
  try {
    feeds = store.feeds();
  } catch (cause) {
    throw new ApiError('store_unavailable', 'the store cannot be read', { cause });
  }
  return {
    data: {
      feeds: feeds.map((f) => ({
        id: f.id,
        configured: f.configured,
        paused: f.paused,
        url: f.url,
        events: f.events,
        last_success_at: iso(f.state.lastSuccessAt),
        last_attempt_at: iso(f.state.lastAttemptAt),
        consecutive_failures: f.state.consecutiveFailures,
        last_error_code: f.state.lastErrorCode,
        failing_since: iso(f.state.failingSince),
        fresh: isFresh(f.state, now, staleAfterMs),
        runs: f.runs.map((r) => ({
          started_at: iso(r.startedAt),
          duration_ms: r.durationMs,
          outcome: r.outcome,
          code: r.code,
          counts: r.counts,
        })),
      })),
    },
    error: null,
  };
}

/** What a feed's polls so far met, for a refusal before any feed was applied. */
function pollsSoFar(state: FeedState): string {
  if (state.lastErrorCode === null) {
    return state.lastAttemptAt === null
      ? 'the first poll has not ended yet'
      : 'the first feed is being applied';
  }
  const since = state.failingSince ?? state.lastAttemptAt;
  return `the partner's last poll failed with ${state.lastErrorCode} (${state.lastErrorMessage ?? ''}), ${state.consecutiveFailures} consecutive failures since ${iso(since)}`;
}

/**
 * Logs readiness when it changes, not once per probe: a load balancer probes every few seconds,
 * and a node that is not ready for an hour would otherwise log a thousand identical lines.
 */
export function createReadinessLog(log: Logger) {
  let last: string | undefined;
  return {
    record(code: string, message: string): void {
      // Counts and instants move with every probe; a change of code or of cause is a new state.
      const key = `${code} ${message.replace(/\d[\d.:TZ-]*/g, '#')}`;
      if (key === last) return;
      const first = last === undefined;
      last = key;
      if (code === 'ready') {
        if (!first) log.info('ready');
      } else {
        log.warn({ code }, `not ready: ${message}`);
      }
    },
  };
}
