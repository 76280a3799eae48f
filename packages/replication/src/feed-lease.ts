import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';

export const LEASE_BUCKET = 'tessera_lease';
const LEASE_KEY = 'leader';

export interface FeedLease {
  isLeader(): boolean;
  /** Releases the lease if held (a clean stop hands over at once) and stops trying. */
  close(): Promise<void>;
}

/**
 * Which node polls the partner: the holder of one key in a KV bucket whose values expire after
 * `leaseMs` (a bucket TTL: NATS 2.9 has no per-key TTL). The holder renews it every third of a
 * lease by compare-and-set on its revision; everyone else tries to create it, which succeeds
 * only once it has expired or been released. A holder that cannot renew for a whole lease (NATS
 * unreachable) stops counting itself the leader, so that two nodes never poll for long; the
 * stream's expected-sequence check catches the rest. Takeover after a holder dies: at most a
 * lease (expiry) plus a third (the next try).
 */
export function startFeedLease(options: {
  kv: KV;
  nodeId: string;
  leaseMs: number;
  log: Logger;
  onChange(leading: boolean): void;
}): FeedLease {
  const { kv, nodeId, leaseMs, log } = options;
  let revision: number | undefined;
  let renewedAt = 0;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();

  const set = (next: number | undefined): void => {
    const was = revision !== undefined;
    revision = next;
    if (was !== (next !== undefined)) {
      log.info(
        { nodeId, leading: next !== undefined },
        next === undefined ? 'lease lost' : 'lease taken: this node polls the partner',
      );
      options.onChange(next !== undefined);
    }
  };

  const value = () => JSON.stringify({ nodeId, at: new Date().toISOString() });

  const tick = async (): Promise<void> => {
    if (closed) return;
    if (revision !== undefined) {
      try {
        set(await kv.update(LEASE_KEY, value(), revision));
        renewedAt = Date.now();
      } catch (error) {
        const taken = /wrong last sequence/.test(String((error as Error)?.message));
        // Taken by another node, or not renewed for a whole lease: no longer ours.
        if (taken || Date.now() - renewedAt >= leaseMs) set(undefined);
      }
      return;
    }
    try {
      const created = await kv.create(LEASE_KEY, value());
      renewedAt = Date.now();
      set(created);
    } catch {
      // Held by another node (or NATS unreachable): try again on the next tick.
    }
  };

  const run = (): void => {
    inFlight = tick().finally(loop);
  };
  const loop = (): void => {
    if (closed) return;
    timer = setTimeout(run, Math.max(50, Math.floor(leaseMs / 3)));
  };
  run();

  return {
    isLeader: () => revision !== undefined,
    async close() {
      closed = true;
      clearTimeout(timer);
      // A renewal already on the wire may still move the revision: release the one it leaves.
      await inFlight;
      if (revision === undefined) return;
      const held = revision;
      set(undefined);
      await kv.delete(LEASE_KEY, { previousSeq: held }).catch(() => {});
    },
  };
}
