import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';

export const LEASE_BUCKET = 'tessera_lease';

/** A feed's key in the lease bucket. */
export function leaseKey(feed: string): string {
  return `feed.${feed}`;
}

export interface FeedLease {
  readonly feed: string;
  isLeader(): boolean;
  /**
   * Hands the lease over if held (after `onChange(false)` resolved: this node polls no more),
   * and goes on trying to take it whenever `mayTake` allows.
   */
  release(): Promise<void>;
  /** Tries to take (or renews) the lease now rather than at the next tick. */
  poke(): void;
  /** Releases the lease if held (a clean stop hands over at once) and stops trying. */
  close(): Promise<void>;
}

/**
 * Which node polls a feed's partner: the holder of the feed's key in a KV bucket whose values expire after
 * `leaseMs` (a bucket TTL: NATS 2.9 has no per-key TTL). The holder renews it every third of a
 * lease by compare-and-set on its revision; everyone else tries to create it, which succeeds
 * only once it has expired or been released. A holder that cannot renew for a whole lease (NATS
 * unreachable) stops counting itself the leader, so that two nodes never poll for long; the
 * fenced commits of the stream catch the rest. Takeover after a holder dies: at most a
 * lease (expiry) plus a third (the next try).
 */
export function startFeedLease(options: {
  kv: KV;
  feed: string;
  nodeId: string;
  leaseMs: number;
  log: Logger;
  /**
   * Whether this node may try to take the lease now (a node holding its share leaves it to
   * others): a try counts against the share from this call until `tried` is called.
   */
  mayTake?: () => boolean;
  tried?: () => void;
  onChange(leading: boolean): void | Promise<void>;
}): FeedLease {
  const { kv, feed, nodeId, leaseMs, log } = options;
  const key = leaseKey(feed);
  let revision: number | undefined;
  let renewedAt = 0;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();

  const set = (next: number | undefined): Promise<void> => {
    const was = revision !== undefined;
    revision = next;
    if (was === (next !== undefined)) return Promise.resolve();
    log.info(
      { nodeId, feed, leading: next !== undefined },
      next === undefined ? 'lease lost' : 'lease taken: this node polls the partner',
    );
    return Promise.resolve(options.onChange(next !== undefined));
  };

  const value = () => JSON.stringify({ nodeId, at: new Date().toISOString() });

  const tick = async (): Promise<void> => {
    if (closed) return;
    if (revision !== undefined) {
      try {
        void set(await kv.update(key, value(), revision));
        renewedAt = Date.now();
      } catch (error) {
        const taken = /wrong last sequence/.test(String((error as Error)?.message));
        // Taken by another node, or not renewed for a whole lease: no longer ours.
        if (taken || Date.now() - renewedAt >= leaseMs) void set(undefined);
      }
      return;
    }
    if (options.mayTake?.() === false) return;
    try {
      const created = await kv.create(key, value());
      renewedAt = Date.now();
      void set(created);
    } catch {
      // Held by another node (or NATS unreachable): try again on the next tick.
    } finally {
      options.tried?.();
    }
  };

  let waiting = false;
  const run = (): void => {
    waiting = false;
    inFlight = tick().finally(loop);
  };
  const loop = (): void => {
    if (closed) return;
    waiting = true;
    timer = setTimeout(run, Math.max(50, Math.floor(leaseMs / 3)));
  };
  run();

  /** Stops polling, then deletes the key (if still ours), so that another node takes it now. */
  const handOver = async (): Promise<void> => {
    // A renewal already on the wire may still move the revision: release the one it leaves.
    await inFlight;
    if (revision === undefined) return;
    const held = revision;
    await set(undefined);
    await kv.delete(key, { previousSeq: held }).catch(() => {});
  };

  return {
    feed,
    isLeader: () => revision !== undefined,
    release: handOver,
    poke() {
      if (closed || !waiting) return;
      clearTimeout(timer);
      run();
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      await handOver();
    },
  };
}
