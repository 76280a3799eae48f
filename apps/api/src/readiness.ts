import type { StoreState, StoreView } from '@tessera/store';
import type { Logger } from 'pino';
import { ApiError } from './api-error.js';
import { type ReplicationView, viewReplication } from './replication-view.js';

export interface ReadinessLimits {
  maxLagMs: number;
  staleAfterMs: number;
}

const iso = (at: number | null): string | null => (at === null ? null : new Date(at).toISOString());

/**
 * The /ready answer, or the refusal that says why: nothing applied yet (and what the last polls
 * met, since when), a follower too far behind, a node re-syncing, an unreadable store.
 */
export function readyBody(store: StoreView, now: number, limits: ReadinessLimits) {
  let state: StoreState;
  let events: number;
  let version: number;
  let digest: string | null;
  let cluster: ReplicationView;
  try {
    state = store.state();
    events = store.count();
    version = store.head().version;
    digest = store.digest();
    cluster = viewReplication(store.replication(), now, limits.maxLagMs);
  } catch (cause) {
    throw new ApiError('store_unavailable', 'the store cannot be read', { cause });
  }
  if (state.lastSuccessAt === null) {
    throw new ApiError(
      'not_ready',
      `no feed has been applied to the store yet: ${pollsSoFar(state)}`,
    );
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
      `this node lags ${Math.round(cluster.lagMs / 1000)} s behind the cluster (MAX_LAG_MS is ${limits.maxLagMs})`,
    );
  }
  const ageMs = Math.max(0, now - state.lastSuccessAt);
  return {
    data: {
      status: 'ready',
      role: cluster.role,
      events,
      version,
      state_digest: digest,
      fresh: ageMs <= limits.staleAfterMs,
      last_success_at: iso(state.lastSuccessAt),
      age_seconds: Math.round(ageMs / 1000),
      last_attempt_at: iso(state.lastAttemptAt),
      consecutive_failures: state.consecutiveFailures,
      last_error_code: state.lastErrorCode,
      ...(cluster.role === 'single'
        ? {}
        : {
            replication: cluster.replication,
            applied_sequence: cluster.appliedSequence,
            latest_sequence: cluster.latestSequence,
            lag_ms: cluster.lagMs,
          }),
    },
    error: null,
  };
}

/** What the polls so far met, for a refusal before the first feed was applied. */
function pollsSoFar(state: StoreState): string {
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
