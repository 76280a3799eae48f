import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/** The status file, in the data directory beside the store. */
export const REPLICATION_FILE = 'replication.json';

/**
 * Cluster mode: the ingestor's view of the cluster, for /ready and /metrics. Kept in a small file
 * beside the store rather than in LMDB, so that it can change (a lost connection, a growing lag)
 * while a batch's write transaction is open; replaced atomically (written aside, then renamed).
 * The store does not know it: the ingestor writes it, the API reads it (`@tessera/replication/status`,
 * which loads no NATS client).
 */
export const ReplicationStatusSchema = z.object({
  nodeId: z.string(),
  /** Leader of at least one feed, or of none. */
  role: z.enum(['leader', 'follower']),
  /** The feeds this node leads (polls and publishes) now. */
  leading: z.array(z.string()).default([]),
  /**
   * When each of those leases stops covering this node by its own clock (epoch ms): a reader
   * counts a feed led only until then, whatever the file says, since the writer may be paused or
   * dead and another node may take the feed right after.
   */
  leadingUntil: z.record(z.string(), z.number()).default({}),
  /**
   * The process that wrote this (pid and start time): a reader that finds it gone reads the
   * status as stale, not as the word of a new process of the same node that has not written yet.
   */
  writer: z
    .object({ pid: z.number().int().positive(), startTicks: z.number().nullable() })
    .nullable()
    .default(null),
  /** Whether the ingestor reaches NATS right now. */
  connected: z.boolean(),
  /** The last stream sequence this store took in (applied, skipped as applied, or staged in a batch still open). */
  appliedSequence: z.number().int().nonnegative(),
  /** The last stream sequence known to exist in the cluster. */
  latestSequence: z.number().int().nonnegative(),
  /** When the oldest message not yet applied was published (epoch ms); null when caught up. */
  behindSince: z.number().nullable(),
  /**
   * Since when this node's store is known to differ from the cluster's (a feed's digest is not
   * its leader's), and why; null once every such feed matched a digest its leader sent again.
   * The node re-syncs on its own meanwhile and is not ready.
   */
  diverged: z.object({ since: z.number(), message: z.string() }).nullable().default(null),
  /**
   * The live nodes whose feed configuration (ids, URLs, time zones) is not this node's: each
   * feed's content then depends on which node leads it. Empty when all agree; a rolling change
   * of FEEDS passes through this on purpose, so it warns and does not make a node unready.
   */
  configDiffers: z.array(z.string()).default([]),
  /** When the ingestor last wrote this (epoch ms): it does at least every few seconds. */
  updatedAt: z.number(),
});
export type ReplicationStatus = z.infer<typeof ReplicationStatusSchema>;

export function writeReplicationStatus(dir: string, status: ReplicationStatus): void {
  const file = join(dir, REPLICATION_FILE);
  const aside = `${file}.${process.pid}.tmp`;
  writeFileSync(aside, JSON.stringify(status));
  renameSync(aside, file);
}

/** The status as last written, or null (single mode, or not written yet). */
export function readReplicationStatus(dir: string): ReplicationStatus | null {
  let text: string;
  try {
    text = readFileSync(join(dir, REPLICATION_FILE), 'utf8');
  } catch {
    return null;
  }
  const parsed = ReplicationStatusSchema.safeParse(JSON.parse(text));
  return parsed.success ? parsed.data : null;
}
