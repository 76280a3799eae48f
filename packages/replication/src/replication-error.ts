export const REPLICATION_ERROR_CODES = [
  /** NATS could not be reached, or did not answer in time. */
  'replication_unavailable',
  /** Another node published to the stream: this one is no longer the leader. */
  'replication_fenced',
  /** The stream holds what this node cannot apply (a bug, or a stream from another dataset). */
  'replication_inconsistent',
  /** This store cannot join the cluster (it holds another dataset's or a single node's data). */
  'replication_refused',
  /**
   * After applying a message, this store's state digest is not the one the leader said it must
   * be: its content differs from the cluster's. It re-syncs from the latest checkpoint.
   */
  'state_diverged',
] as const;
export type ReplicationErrorCode = (typeof REPLICATION_ERROR_CODES)[number];

export class ReplicationError extends Error {
  override readonly name = 'ReplicationError';
  constructor(
    readonly code: ReplicationErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** JetStream's answer to a publish whose expected last sequence is stale. */
const WRONG_LAST_SEQUENCE = 10071;

/** A failed publish, as this package reports it. */
export function publishError(cause: unknown): ReplicationError {
  const code = (cause as { code?: unknown })?.code;
  const message = cause instanceof Error ? cause.message : String(cause);
  return code === WRONG_LAST_SEQUENCE || /wrong last sequence/.test(message)
    ? new ReplicationError(
        'replication_fenced',
        `another node published to the feed stream: ${message}`,
        { cause },
      )
    : new ReplicationError(
        'replication_unavailable',
        `publishing to the feed stream failed: ${message}`,
        { cause },
      );
}
