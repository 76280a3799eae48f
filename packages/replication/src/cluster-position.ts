import type { StoreWriter } from '@tessera/store';
import { z } from 'zod';

/**
 * Where a store stands in the cluster's feed stream, written by the store in the same
 * transaction as every write it describes (the store keeps it without reading it):
 *
 * - `appliedSequence`: every commit and state message up to it was applied (or, an incomplete
 *   batch, skipped as on every node); on a re-read they are skipped, which is what makes an
 *   apply happen exactly once across crashes.
 * - `resumeAt`: where reading starts again after a restart: the first message of the oldest
 *   batch still open at the last write, whose records were only staged (absent: right after
 *   `appliedSequence`, as one-feed clusters wrote).
 * - `resyncing`: feeds emptied after they diverged, with the sequence up to which each was read
 *   again: their messages up to `appliedSequence` are applied again instead of skipped.
 */
export const ClusterPositionSchema = z.object({
  datasetId: z.string(),
  appliedSequence: z.number().int().nonnegative(),
  resumeAt: z.number().int().positive().optional(),
  resyncing: z.record(z.string(), z.number().int().nonnegative()).optional(),
});
export type ClusterPosition = z.infer<typeof ClusterPositionSchema>;

/** The store's position; null for a store that never joined a cluster. */
export function readPosition(store: StoreWriter): ClusterPosition | null {
  const raw = store.sourcePosition();
  return raw === null || raw === undefined ? null : ClusterPositionSchema.parse(raw);
}

/** Where reading the stream starts: the first sequence not yet taken in for good. */
export function resumeAtOf(position: ClusterPosition | null): number {
  if (position === null) return 1;
  return position.resumeAt ?? position.appliedSequence + 1;
}

/** The last sequence of a feed's messages this store applied: later ones are applied, not skipped. */
export function floorOf(position: ClusterPosition | null, feed: string): number {
  if (position === null) return 0;
  return position.resyncing?.[feed] ?? position.appliedSequence;
}

/** The position once the message of `feed` at `sequence` was applied. */
export function advance(
  position: ClusterPosition,
  feed: string,
  sequence: number,
  resumeAt: number,
): ClusterPosition {
  const resyncing = { ...position.resyncing };
  if (sequence >= position.appliedSequence) delete resyncing[feed];
  else resyncing[feed] = sequence;
  return {
    datasetId: position.datasetId,
    appliedSequence: Math.max(position.appliedSequence, sequence),
    resumeAt,
    ...(Object.keys(resyncing).length > 0 ? { resyncing } : {}),
  };
}
