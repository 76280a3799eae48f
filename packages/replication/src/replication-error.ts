import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';

export const REPLICATION_ERROR_CODES = [
  /** NATS could not be reached, or did not answer in time. */
  'replication_unavailable',
  /** Another node committed to the feed: this one is no longer its leader. */
  'replication_fenced',
  /** The stream holds what this node cannot apply (a bug, or a stream from another dataset). */
  'replication_inconsistent',
  /** This store cannot join the cluster (it holds another dataset's or a single node's data). */
  'replication_refused',
  /**
   * After applying a message, this store's digest of the message's feed is not the one its
   * leader said it must be: its content differs from the cluster's. That feed re-syncs from its
   * latest checkpoint.
   */
  'state_diverged',
] as const;
export type ReplicationErrorCode = (typeof REPLICATION_ERROR_CODES)[number];

export class ReplicationError extends Error {
  override readonly name = 'ReplicationError';
  /** The feed the error is about, when it is about one (`state_diverged`). */
  readonly feed: string | undefined;
  constructor(
    readonly code: ReplicationErrorCode,
    message: string,
    options?: { cause?: unknown; feed?: string },
  ) {
    super(message, options);
    this.feed = options?.feed;
  }
}

/** Whether a write was refused because its expected last sequence (a KV revision) is stale. */
export function isWrongLastSequence(cause: unknown): boolean {
  return (
    cause instanceof JetStreamApiError &&
    (cause.code === JetStreamApiCodes.StreamWrongLastSequence ||
      cause.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

/** A failed publish, as this package reports it. */
export function publishError(cause: unknown): ReplicationError {
  const message = cause instanceof Error ? cause.message : String(cause);
  return isWrongLastSequence(cause)
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
