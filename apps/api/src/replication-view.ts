import type { ReplicationStatus } from '@tessera/replication/status';
import { isRunning } from '@tessera/runtime';

/** The ingestor rewrites its status every 2 s; one much older means the ingestor is not running. */
export const STATUS_STALE_MS = 10_000;

/**
 * The ingestor's replication status as last written beside the store (cluster mode), or null
 * (single mode, or not written yet): what /ready and /metrics read it through.
 */
export type ReplicationSource = () => ReplicationStatus | null;

export interface ReplicationView {
  role: 'single' | 'leader' | 'follower';
  /**
   * Cluster mode: the feeds this node's ingestor leads (polls) now: none once its status is stale
   * or its writer gone, and each only until its lease's cover ends.
   */
  leading: string[];
  /** Whether this node's ingestor reaches NATS; `stale` when the ingestor itself is silent. */
  replication: 'connected' | 'disconnected' | 'stale' | null;
  appliedSequence: number | null;
  latestSequence: number | null;
  lagMs: number;
  /** Why this node's content is known to differ from the cluster's (it re-syncs); null if not. */
  diverged: string | null;
  /** The live nodes whose feed configuration is not this node's (a warning, not unreadiness). */
  configDiffers: string[];
  ready: boolean;
}

/**
 * What the ingestor's replication status means for this node's readiness. A follower further
 * behind than `maxLagMs` is not ready, so that a load balancer stops sending it traffic; but a
 * node that cannot reach NATS stays ready: a NATS outage, like a partner outage, must not take
 * the whole fleet out of service. A silent ingestor (status not rewritten) counts as behind
 * since it last spoke.
 */
export function viewReplication(
  status: ReplicationStatus | null,
  now: number,
  maxLagMs: number,
): ReplicationView {
  if (status === null) {
    return {
      role: 'single',
      leading: [],
      replication: null,
      appliedSequence: null,
      latestSequence: null,
      lagMs: 0,
      diverged: null,
      configDiffers: [],
      ready: true,
    };
  }
  // A status whose writer has exited is its last word: a restarted ingestor has not spoken yet.
  const writerGone = status.writer !== null && !isRunning(status.writer);
  const stale = writerGone || now - status.updatedAt > STATUS_STALE_MS;
  // A lease counts only while it covers the writer by its clock (the same machine's as ours).
  const leading = stale
    ? []
    : status.leading.filter(
        (feed) => (status.leadingUntil[feed] ?? Number.POSITIVE_INFINITY) > now,
      );
  const behindSince = stale
    ? Math.min(status.behindSince ?? status.updatedAt, status.updatedAt)
    : status.behindSince;
  const lagMs = behindSince === null ? 0 : Math.max(0, now - behindSince);
  const replication = stale ? 'stale' : status.connected ? 'connected' : 'disconnected';
  return {
    role: leading.length > 0 ? 'leader' : 'follower',
    leading,
    replication,
    appliedSequence: status.appliedSequence,
    latestSequence: status.latestSequence,
    lagMs,
    diverged: status.diverged?.message ?? null,
    configDiffers: status.configDiffers,
    ready: status.diverged === null && (replication === 'disconnected' || lagMs <= maxLagMs),
  };
}
