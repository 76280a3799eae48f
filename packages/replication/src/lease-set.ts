import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { type FeedLease, startFeedLease } from './feed-lease.js';

export const NODES_BUCKET = 'tessera_nodes';

export interface LeaseSet {
  /** The feeds this node leads now (the keys of `held`). */
  leading(): string[];
  /**
   * The feeds this node leads now, each with the moment its lease's cover ends (epoch ms): a
   * lease whose cover has ended is not among them, whether or not its timer has run yet.
   */
  held(): Map<string, number>;
  /**
   * Contends for these feeds from now on (a FEEDS reload): leases of feeds no longer listed are
   * handed over (their listener told first), new ones contended for; `configuration` is what the
   * heartbeat tells the other nodes from now on.
   */
  setFeeds(feeds: readonly string[], configuration: string): Promise<void>;
  /** Releases every lease held (a clean stop hands over at once) and leaves the membership. */
  close(): Promise<void>;
}

/**
 * One lease per feed, spread over the nodes: each node says it is alive in a bucket whose values
 * expire after a lease (renewed every third of one), and takes a free feed's lease only while it
 * holds fewer than its share, ceil(feeds / live nodes). A node holding more than its share (a
 * node joined) hands the surplus over, last taken first, so that polling and parsing scale with
 * the nodes. A dead node's keys expire at most a lease after it died: the others count one node
 * fewer at their next heartbeat (a third of a lease later) and try for its feeds at once, within
 * two lease periods.
 */
export function startLeaseSet(options: {
  leaseKv: KV;
  nodesKv: KV;
  feeds: readonly string[];
  nodeId: string;
  leaseMs: number;
  log: Logger;
  /** A digest of this node's feed configuration, told to the others with every heartbeat. */
  configuration: string;
  onChange(feed: string, leading: boolean): void | Promise<void>;
  /** Called when the set of live nodes whose configuration differs from this one's changes. */
  onDiffering?(nodes: string[]): void;
}): LeaseSet {
  const { nodesKv, nodeId, leaseMs, log } = options;
  let feeds = [...options.feeds];
  let configuration = options.configuration;
  let differing: string[] = [];
  let nodes = 1;
  let closed = false;
  /** The feeds held, in the order they were taken. */
  const held: string[] = [];
  /** Tries to take a lease under way: they count against the share until they end. */
  let trying = 0;
  const share = (): number => Math.ceil(feeds.length / Math.max(1, nodes));

  const startLease = (feed: string): FeedLease =>
    startFeedLease({
      kv: options.leaseKv,
      feed,
      nodeId,
      leaseMs,
      log,
      mayTake() {
        if (closed || held.length + trying >= share()) return false;
        trying++;
        return true;
      },
      tried() {
        trying--;
      },
      onChange(leading) {
        const at = held.indexOf(feed);
        if (leading && at < 0) held.push(feed);
        if (!leading && at >= 0) held.splice(at, 1);
        return options.onChange(feed, leading);
      },
    });
  const leases: FeedLease[] = feeds.map(startLease);

  /**
   * The nodes whose key is there now. A listing of the bucket's keys can miss one being renewed
   * at that very moment (its old revision gone, its new one after the listing's end), so keys
   * are only discovered by listing, and each known one is then read on its own.
   */
  const known = new Set<string>([nodeId]);
  const liveNodes = async (): Promise<{ count: number; differing: string[] }> => {
    for await (const key of await nodesKv.keys()) known.add(key);
    let count = 0;
    const differs: string[] = [];
    for (const key of [...known]) {
      const entry = await nodesKv.get(key);
      if (entry === null || entry.operation !== 'PUT') {
        known.delete(key);
        continue;
      }
      count++;
      if (configurationOf(entry.string()) !== configuration) differs.push(key);
    }
    return { count, differing: differs.sort() };
  };

  let releasing = Promise.resolve();
  const heartbeat = async (): Promise<void> => {
    try {
      await nodesKv.put(nodeId, JSON.stringify({ at: new Date().toISOString(), configuration }));
      const live = await liveNodes();
      const count = live.count;
      if (live.differing.join() !== differing.join()) {
        differing = live.differing;
        options.onDiffering?.(differing);
      }
      if (count !== nodes) {
        log.info(
          { nodes: count, share: Math.ceil(feeds.length / Math.max(1, count)) },
          'cluster size changed',
        );
      }
      const fewer = count < nodes;
      nodes = Math.max(1, count);
      // A node gone: its feeds may be taken now, not a third of a lease later.
      if (fewer) for (const lease of leases) lease.poke();
    } catch {
      // NATS unreachable: keep the last count; the leases tell the rest.
      return;
    }
    const surplus = held.length - share();
    if (surplus <= 0) return;
    const handing = held.slice(-surplus);
    releasing = releasing.then(async () => {
      for (const feed of handing) {
        log.info(
          { feed, share: share() },
          'handing a lease over: this node holds more than its share',
        );
        await leases.find((l) => l.feed === feed)?.release();
      }
    });
    await releasing;
  };

  const heldNow = (): Map<string, number> => {
    const now = new Map<string, number>();
    for (const feed of held) {
      const until = leases.find((l) => l.feed === feed)?.heldUntil();
      if (until != null) now.set(feed, until);
    }
    return now;
  };

  let timer: NodeJS.Timeout | undefined;
  let beating: Promise<void> = Promise.resolve();
  const loop = (): void => {
    if (closed) return;
    beating = heartbeat().finally(() => {
      if (!closed) timer = setTimeout(loop, Math.max(50, Math.floor(leaseMs / 3)));
    });
  };
  loop();

  return {
    leading: () => [...heldNow().keys()],
    held: heldNow,
    async setFeeds(next, nextConfiguration) {
      configuration = nextConfiguration;
      feeds = [...next];
      const gone = leases.filter((lease) => !next.includes(lease.feed));
      for (const lease of gone) leases.splice(leases.indexOf(lease), 1);
      await Promise.all(gone.map((lease) => lease.close()));
      for (const feed of next) {
        if (!leases.some((lease) => lease.feed === feed)) leases.push(startLease(feed));
      }
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      await beating;
      await Promise.all(leases.map((lease) => lease.close()));
      await nodesKv.delete(nodeId).catch(() => {});
    },
  };
}

/** The configuration digest a node's heartbeat carries; null for a node that sends none. */
function configurationOf(value: string): string | null {
  try {
    const parsed = JSON.parse(value) as { configuration?: unknown };
    return typeof parsed.configuration === 'string' ? parsed.configuration : null;
  } catch {
    return null;
  }
}
