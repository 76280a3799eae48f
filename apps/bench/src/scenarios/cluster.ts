import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { FEED_STREAM } from '@tessera/replication';
import {
  freePort,
  getJson,
  type RunningProcess,
  startApp,
  startNatsCluster,
  tamperWithStore,
  waitUntil,
} from '@tessera/testkit';
import type { BenchContext } from '../bench-context.js';
import { nearestRank } from '../percentile.js';

export interface ClusterResult {
  nodes: number;
  leaseMs: number;
  lag: {
    feeds: number;
    changedEvents: number;
    samples: number;
    p50Ms: number;
    p99Ms: number;
    maxMs: number;
  };
  takeoverMs: number;
  catchUp: {
    events: number;
    localIngestMs: number;
    catchUpMs: number;
    ratio: number;
    bytesRead: number;
    messagesRead: number;
  };
  /** A node whose store was altered while its ingestor was stopped, restarted. */
  repair: {
    events: number;
    /** Ingestor start → its `state_diverged` line (the boot-time scan found the store altered). */
    detectMs: number;
    /** Ingestor start → /ready 200 with the healthy nodes' state digest. */
    repairMs: number;
  };
}

interface Node {
  dir: string;
  apiPort: number;
  ingestor: RunningProcess;
  api: RunningProcess;
}

const LEASE_MS = 10_000;
/**
 * Feeds whose lag is measured, each on every node: 34 × 3 = 102 samples, the fewest whose p99 by
 * nearest rank is not simply their largest (24 samples, as before, made the "p99" the max).
 */
const FEEDS = 34;
const LAG_BASES = 5_000;

/**
 * Three NATS JetStream servers and three Tessera nodes on this machine: how long a feed takes
 * from its commit on the stream to every node's /search, how long a dead leader takes to be
 * replaced, how long a node that starts empty takes to catch up with a 100k-event state, next
 * to one node ingesting the same feed alone, and how long a node whose store was altered takes
 * to notice and re-sync.
 */
export async function runCluster(ctx: BenchContext): Promise<ClusterResult> {
  const nats = await startNatsCluster(3);
  const nc = await connect({ servers: nats.url.split(',') });
  const nodes: Node[] = [];
  const startIngestor = (dir: string, name: string): RunningProcess =>
    startApp('ingestor', {
      DATA_DIR: dir,
      PROVIDER_URL: ctx.feedUrl,
      NATS_URL: nats.url,
      NODE_ID: name,
      LEASE_MS: String(LEASE_MS),
      POLL_INTERVAL_MS: '3000',
      LOG_LEVEL: 'info',
    });
  const startNode = async (): Promise<Node> => {
    const dir = ctx.dir(`cluster-node-${nodes.length}`);
    const apiPort = await freePort();
    const node: Node = {
      dir,
      apiPort,
      ingestor: startIngestor(dir, `bench-${nodes.length}`),
      api: startApp('api', {
        DATA_DIR: dir,
        PORT: String(apiPort),
        HOST: '127.0.0.1',
        API_WORKERS: '1',
        LOG_LEVEL: 'warn',
      }),
    };
    nodes.push(node);
    await waitUntil(() => getJson(`http://127.0.0.1:${apiPort}/health`), { what: 'a node API' });
    return node;
  };
  const version = async (node: Node): Promise<number | undefined> => {
    const res = await fetch(`http://127.0.0.1:${node.apiPort}/search`, { method: 'HEAD' }).catch(
      () => undefined,
    );
    const etag = res?.headers.get('etag');
    return etag ? Number(etag.split('.')[1]) : undefined;
  };
  const role = async (node: Node) =>
    (await getJson<{ data: { role?: string } | null }>(`http://127.0.0.1:${node.apiPort}/ready`))
      ?.data?.role;
  try {
    await ctx.setSource({
      kind: 'generated',
      bases: LAG_BASES,
      eventsPerBase: 2,
      zonesPerEvent: 20,
      onlineRatio: 1,
      seed: 1,
      evolve: true,
    });
    for (let i = 0; i < 3; i++) await startNode();
    // The nodes' ingestors create the stream once they reach the cluster, which can be after
    // their APIs answer: a consumer asked for before then fails with "stream not found".
    const streams = (await jetstreamManager(nc)).streams;
    await waitUntil(() => streams.info(FEED_STREAM).catch(() => undefined), {
      what: 'the feed stream',
    });

    // Replication lag: each new feed changes every event; from its commit message's time on the
    // stream to the moment each node's /search shows the new version.
    ctx.log(`cluster: replication lag over ${FEEDS} feeds of ${LAG_BASES * 2} changed events`);
    // Every message's time on the stream, read as it comes (checkpoints purge old ones).
    const committed = new Map<number, number>();
    const watcher = await (
      await jetstream(nc).consumers.get(FEED_STREAM, { deliver_policy: DeliverPolicy.New })
    ).consume();
    void (async () => {
      for await (const m of watcher) committed.set(m.seq, m.time.getTime());
    })();
    const lags: number[] = [];
    // Warm-up, not measured: every node up, caught up and on the same first feed.
    const same = async () => {
      const versions = await Promise.all(nodes.map(version));
      return versions.every((v) => v !== undefined && v > 0 && v === versions[0])
        ? versions[0]
        : undefined;
    };
    let seen = await waitUntil(same, { what: 'every node on the first feed', timeoutMs: 120_000 });
    for (let feed = 0; feed < FEEDS; feed++) {
      const visible = new Map<Node, number>();
      let target = 0;
      await waitUntil(
        async () => {
          for (const node of nodes) {
            if (visible.has(node)) continue;
            const v = await version(node);
            if (v !== undefined && v > seen) {
              target ||= v;
              if (v >= target) visible.set(node, Date.now());
            }
          }
          return visible.size === nodes.length;
        },
        { what: 'a feed on every node', timeoutMs: 120_000, intervalMs: 5 },
      );
      const committedAt = committed.get(target);
      if (committedAt === undefined)
        throw new Error(`message ${target} was not seen on the stream`);
      for (const at of visible.values()) lags.push(at - committedAt);
      seen = target;
    }

    await watcher.close();

    // Takeover: the leader's ingestor killed, until another node holds the lease.
    ctx.log('cluster: leader takeover');
    const roles = await Promise.all(nodes.map(role));
    const leader = nodes[roles.indexOf('leader')]!;
    leader.ingestor.signal('SIGKILL');
    await leader.ingestor.exited;
    const killedAt = Date.now();
    await waitUntil(
      async () => {
        for (const node of nodes)
          if (node !== leader && (await role(node)) === 'leader') return true;
        return false;
      },
      { what: 'a new leader', timeoutMs: 120_000, intervalMs: 20 },
    );
    const takeoverMs = Date.now() - killedAt;

    // Catch-up: a 100k-event state; one node alone ingests the feed, then an empty node joins.
    ctx.log('cluster: catch-up of an empty node with a 100k-event state');
    const state = {
      kind: 'generated' as const,
      bases: 50_000,
      eventsPerBase: 2,
      zonesPerEvent: 5,
      onlineRatio: 1,
      seed: 4242,
    };
    await ctx.setSource(state);
    await waitUntil(
      async () => {
        const counts = await Promise.all(
          nodes
            .filter((n) => n !== leader)
            .map(
              async (n) =>
                (
                  await getJson<{ data: { events?: number } | null }>(
                    `http://127.0.0.1:${n.apiPort}/ready`,
                  )
                )?.data?.events,
            ),
        );
        // The lag feeds' events are the first bases' of this one (same ids): 100k in all.
        return counts.every((c) => c === 100_000) || undefined;
      },
      { what: 'the 100k feed on the nodes', timeoutMs: 300_000, intervalMs: 200 },
    );
    const local = await ctx.ingestOnce({ DATA_DIR: ctx.dir('cluster-local') });
    const joinedAt = Date.now();
    const fresh = await startNode();
    await fresh.ingestor
      .waitForOutput(/"msg":"caught up with the cluster"/, 300_000)
      .catch((error: Error) => {
        // What the node was doing is what tells a slow catch-up from a stuck one (a failure
        // prints one line: the node's are logged first).
        ctx.log(
          `the joining node's last lines:\n${fresh.ingestor.output().split('\n').slice(-40).join('\n')}`,
        );
        throw error;
      });
    const catchUpMs = Date.now() - joinedAt;
    const line = fresh.ingestor.logs().find((l) => l.msg === 'caught up with the cluster')!;

    // Repair: the caught-up node's store altered while its ingestor is stopped (1% of its
    // events deleted, 1% changed), then restarted: until it serves the cluster's content again.
    ctx.log('cluster: detect and repair a node whose store was altered');
    const ready = async (node: Node) => {
      const res = await fetch(`http://127.0.0.1:${node.apiPort}/ready`).catch(() => undefined);
      const body = (await res?.json().catch(() => undefined)) as
        | { data: { state_digest?: string } | null }
        | undefined;
      return res?.status === 200 ? body?.data?.state_digest : undefined;
    };
    const healthy = await waitUntil(() => ready(nodes[1] === leader ? nodes[2]! : nodes[1]!), {
      what: 'a healthy digest',
    });
    await fresh.ingestor.stop();
    await tamperWithStore(fresh.dir, { remove: 1_000, change: 1_000 });
    const restartedAt = Date.now();
    fresh.ingestor = startIngestor(fresh.dir, `bench-${nodes.length - 1}`);
    await fresh.ingestor.waitForOutput(/"code":"state_diverged"/, 120_000);
    const detectMs = Date.now() - restartedAt;
    await waitUntil(async () => (await ready(fresh)) === healthy || undefined, {
      what: 'the altered node repaired',
      timeoutMs: 300_000,
      intervalMs: 20,
    });
    const repairMs = Date.now() - restartedAt;
    ctx.command(
      'NATS_URL=3 local nats-server -js processes; 3 nodes (ingestor + API, API_WORKERS=1), LEASE_MS=10000, POLL_INTERVAL_MS=3000',
    );
    const sorted = [...lags].sort((a, b) => a - b);
    return {
      nodes: 3,
      leaseMs: LEASE_MS,
      lag: {
        feeds: FEEDS,
        changedEvents: LAG_BASES * 2,
        samples: lags.length,
        p50Ms: nearestRank(sorted, 0.5),
        p99Ms: nearestRank(sorted, 0.99),
        maxMs: sorted.at(-1)!,
      },
      takeoverMs,
      catchUp: {
        events: local.events,
        localIngestMs: local.durationMs,
        catchUpMs,
        ratio: catchUpMs / local.durationMs,
        bytesRead: Number(line.bytes),
        messagesRead: Number(line.messages),
      },
      repair: { events: local.events, detectMs, repairMs },
    };
  } finally {
    for (const node of nodes) await Promise.all([node.ingestor.stop(), node.api.stop()]);
    await nc.close();
    await nats.close();
  }
}
