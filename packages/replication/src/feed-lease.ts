import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { isWrongLastSequence } from './replication-error.js';

export const LEASE_BUCKET = 'tessera_lease';

/** A feed's key in the lease bucket. */
export function leaseKey(feed: string): string {
  return `feed.${feed}`;
}

export interface FeedLease {
  readonly feed: string;
  /** Held now: taken, and the last renewal that landed still covers this node by its own clock. */
  isLeader(): boolean;
  /**
   * When the cover of the last renewal that landed ends (epoch ms), while held; null otherwise.
   * A process woken from a pause past it is not the leader, even before its timers have run.
   */
  heldUntil(): number | null;
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
 * The bucket stamps a renewal no earlier than the holder sent it, so the key lives at least a
 * lease from that send: the holder gives up a tenth of a lease before, which leaves room for a
 * timer that fires late on a busy event loop.
 */
const HOLD_FRACTION = 0.9;

/**
 * Which node polls a feed's partner: the holder of the feed's key in a KV bucket whose values expire after
 * `leaseMs` (a bucket TTL: NATS 2.9 has no per-key TTL). The holder renews it every third of a
 * lease by compare-and-set on its revision; everyone else tries to create it, which succeeds
 * only once it has expired or been released. A holder that cannot renew (NATS unreachable, a
 * partition) stops counting itself the leader by its own clock, before the key can expire in the
 * bucket, so that two nodes never poll at once; the fenced commits of the stream catch a holder
 * whose clock or event loop is later still. Takeover after a holder dies: at most a lease
 * (expiry) plus a third (the next try).
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
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  /** Fires when the last renewal that landed no longer covers this node: it steps down. */
  let holdEnds: NodeJS.Timeout | undefined;
  /** The end of that cover (epoch ms). */
  let coverEnds = 0;
  let inFlight: Promise<void> = Promise.resolve();

  const set = (next: number | undefined): Promise<void> => {
    const was = revision !== undefined;
    revision = next;
    if (next === undefined) clearTimeout(holdEnds);
    if (was === (next !== undefined)) return Promise.resolve();
    log.info(
      { nodeId, feed, leading: next !== undefined },
      next === undefined ? 'lease lost' : 'lease taken: this node polls the partner',
    );
    // A failing handler must not become an unhandled rejection that ends the process.
    return Promise.resolve()
      .then(() => options.onChange(next !== undefined))
      .catch((error: unknown) => log.error({ err: error, feed }, 'lease change handler failed'));
  };

  /** Holds `next`, the revision a write sent at `sentAt` left, until that write's cover ends. */
  const hold = (next: number, sentAt: number): Promise<void> => {
    clearTimeout(holdEnds);
    coverEnds = sentAt + HOLD_FRACTION * leaseMs;
    const endsIn = coverEnds - Date.now();
    holdEnds = setTimeout(
      () => {
        if (revision !== next) return;
        log.warn({ nodeId, feed }, 'lease not renewed in time: stepping down before it expires');
        void set(undefined);
      },
      Math.max(0, endsIn),
    );
    return set(next);
  };

  const value = () => JSON.stringify({ nodeId, at: new Date().toISOString() });

  const tick = async (): Promise<void> => {
    if (closed) return;
    const sentAt = Date.now();
    if (revision !== undefined) {
      const renewing = revision;
      try {
        const next = await kv.update(key, value(), renewing);
        if (revision === renewing) void hold(next, sentAt);
        // Stepped down meanwhile (the cover ran out): free the key for others now.
        else await kv.delete(key, { previousSeq: next }).catch(() => {});
      } catch (error) {
        // Taken by another node: no longer ours. Otherwise the cover's end decides.
        if (isWrongLastSequence(error)) void set(undefined);
      }
      return;
    }
    if (options.mayTake?.() === false) return;
    try {
      const created = await kv.create(key, value());
      void hold(created, sentAt);
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
    isLeader: () => revision !== undefined && Date.now() < coverEnds,
    heldUntil: () => (revision !== undefined && Date.now() < coverEnds ? coverEnds : null),
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
      clearTimeout(holdEnds);
    },
  };
}
