import { createWriteStream, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { basesForBytes, generateFeed } from '@tessera/simulator';
import {
  freePort,
  getJson,
  type Nginx,
  type RunningProcess,
  startApp,
  startNatsCluster,
  startNginx,
  waitUntil,
} from '@tessera/testkit';
import type { BenchContext } from '../bench-context.js';
import { treeCpuSeconds } from '../process-cpu.js';

export interface ClusterFeedsResult {
  nodes: number;
  feeds: number;
  feedMb: number;
  leaseMs: number;
  /** Start of the last node → every feed led, none over ceil(feeds / nodes). */
  spreadMs: number;
  /** Per node: the feeds it leads and its ingestor's CPU seconds over the measured round. */
  perNode: Array<{ node: string; leading: string[]; cpuSeconds: number }>;
  /** New documents for every feed → every node's state digest equal to the single node's. */
  convergeMs: number;
  /** One single node (`--once`) ingesting the same six new documents, wall time. */
  singleNodeMs: number;
  singleNodeCpuSeconds: number;
}

const NODES = 3;
const FEEDS = 6;
const FEED_MB = 4;
const LEASE_MS = 10_000;

interface Node {
  name: string;
  apiPort: number;
  ingestor: RunningProcess;
}

type Ready = { leading_feeds?: string[]; state_digest?: string };

const readyOf = (port: number): Promise<Ready | undefined> =>
  getJson<{ data: Ready | null }>(`http://127.0.0.1:${port}/ready`).then(
    (b) => b?.data ?? undefined,
  );

/**
 * The partners: nginx serving one generated document per feed. A round is written aside first
 * (`next/`, where only the reference reads it), then moved into place for the cluster.
 */
function partnersOn(nginx: Nginx, ids: readonly string[]) {
  const bases = basesForBytes(FEED_MB * 1e6, { eventsPerBase: 3, zonesPerEvent: 10 });
  const feedsAt = (prefix: string) =>
    JSON.stringify(ids.map((id) => ({ id, url: `${nginx.origin}${prefix}/${id}.xml` })));
  return {
    feeds: feedsAt(''),
    nextFeeds: feedsAt('/next'),
    async prepare(round: number): Promise<void> {
      mkdirSync(join(nginx.root, 'next'), { recursive: true });
      for (const [i, id] of ids.entries()) {
        const options = { eventsPerBase: 3, zonesPerEvent: 10, bases, seed: round * 100 + i };
        await pipeline(
          Readable.from(generateFeed(options)),
          createWriteStream(join(nginx.root, 'next', `${id}.xml`)),
        );
      }
    },
    publish(): void {
      for (const id of ids) {
        renameSync(join(nginx.root, 'next', `${id}.xml`), join(nginx.root, `${id}.xml`));
      }
    },
  };
}

/** An API on `dir`, once it answers. */
async function startApi(dir: string, processes: RunningProcess[]): Promise<number> {
  const port = await freePort();
  processes.push(
    startApp('api', {
      DATA_DIR: dir,
      PORT: String(port),
      HOST: '127.0.0.1',
      API_WORKERS: '1',
      LOG_LEVEL: 'warn',
    }),
  );
  await waitUntil(() => getJson(`http://127.0.0.1:${port}/health`), { what: 'an API' });
  return port;
}

/** One single node's `--once` of every feed into `dir`: its wall time and CPU seconds. */
async function ingestOnce(
  dir: string,
  feeds: string,
): Promise<{ wallMs: number; cpuSeconds: number }> {
  const started = Date.now();
  const run = startApp('ingestor', { LOG_LEVEL: 'silent', DATA_DIR: dir, FEEDS: feeds }, [
    '--once',
  ]);
  let cpuSeconds = 0;
  const sampling = setInterval(() => {
    cpuSeconds = Math.max(cpuSeconds, treeCpuSeconds(run.child.pid!));
  }, 20);
  const code = await run.exited;
  clearInterval(sampling);
  if (code !== 0) throw new Error(`the single node's ingest failed: ${run.output()}`);
  return { wallMs: Date.now() - started, cpuSeconds };
}

/** Each node's leases, once every feed is led and none holds more than its share. */
async function spread(nodes: Node[]): Promise<string[][]> {
  return waitUntil(
    async () => {
      const each = await Promise.all(
        nodes.map(async (n) => (await readyOf(n.apiPort))?.leading_feeds ?? []),
      );
      const share = Math.ceil(FEEDS / NODES);
      const whole = new Set(each.flat()).size === FEEDS;
      return whole && each.every((l) => l.length <= share) ? each : undefined;
    },
    { what: 'the leases spread', timeoutMs: 120_000, intervalMs: 100 },
  );
}

/** Until every node holds the reference's state digest. */
async function converged(nodes: Node[], referencePort: number): Promise<void> {
  const truth = await waitUntil(async () => (await readyOf(referencePort))?.state_digest, {
    what: 'the reference digest',
  });
  await waitUntil(
    async () => {
      const digests = await Promise.all(
        nodes.map(async (n) => (await readyOf(n.apiPort))?.state_digest),
      );
      return digests.every((d) => d === truth) || undefined;
    },
    { what: 'every node equal to the single node', timeoutMs: 300_000, intervalMs: 50 },
  );
}

/**
 * Six feeds over three nodes: the leases spread (two each) and each node polls and parses its
 * own feeds, so a round of new documents costs each node's ingestor about a third of what one
 * node ingesting them all costs. Next to it, one single node ingesting the same documents
 * (whose state digest every node must then hold: the round ends when they all do).
 */
export async function runClusterFeeds(ctx: BenchContext): Promise<ClusterFeedsResult> {
  const nginx = await startNginx({ server: 'location / { }' });
  const nats = await startNatsCluster(3);
  const processes: RunningProcess[] = [];
  const partners = partnersOn(
    nginx,
    Array.from({ length: FEEDS }, (_, i) => `partner-${i}`),
  );
  try {
    // The first documents everywhere before the nodes start (a node is ready once it holds one).
    const reference = ctx.dir('cluster-feeds-reference');
    await partners.prepare(1);
    await ingestOnce(reference, partners.nextFeeds);
    partners.publish();
    const referencePort = await startApi(reference, processes);
    const nodes: Node[] = [];
    for (let i = 0; i < NODES; i++) {
      const dir = ctx.dir(`cluster-feeds-${i}`);
      const name = `node-${i}`;
      const ingestor = startApp('ingestor', {
        DATA_DIR: dir,
        FEEDS: partners.feeds,
        NATS_URL: nats.url,
        NODE_ID: name,
        LEASE_MS: String(LEASE_MS),
        POLL_INTERVAL_MS: '1000',
        LOG_LEVEL: 'warn',
      });
      processes.push(ingestor);
      nodes.push({ name, ingestor, apiPort: await startApi(dir, processes) });
    }
    const lastStarted = Date.now();
    ctx.log(`cluster-feeds: ${FEEDS} feeds of ~${FEED_MB} MB over ${NODES} nodes`);
    const leading = await spread(nodes);
    const spreadMs = Date.now() - lastStarted;
    await converged(nodes, referencePort);

    // The measured round: new documents for every feed, the single node first (the cluster,
    // meanwhile, polls unchanged documents), then the cluster's partners.
    await partners.prepare(2);
    const single = await ingestOnce(reference, partners.nextFeeds);
    const cpuBefore = nodes.map((n) => treeCpuSeconds(n.ingestor.child.pid!));
    const publishedAt = Date.now();
    partners.publish();
    await converged(nodes, referencePort);
    const convergeMs = Date.now() - publishedAt;
    ctx.command(
      `3 local nats-server -js; 3 nodes with FEEDS='[{"id":"partner-0","url":"http://nginx/partner-0.xml"},…]' (6 feeds of ~${FEED_MB} MB), NATS_URL, LEASE_MS=${LEASE_MS}, POLL_INTERVAL_MS=1000; beside them ingestor --once with the same FEEDS`,
    );
    return {
      nodes: NODES,
      feeds: FEEDS,
      feedMb: FEED_MB,
      leaseMs: LEASE_MS,
      spreadMs,
      perNode: nodes.map((n, i) => ({
        node: n.name,
        leading: leading[i] ?? [],
        cpuSeconds: treeCpuSeconds(n.ingestor.child.pid!) - cpuBefore[i]!,
      })),
      convergeMs,
      singleNodeMs: single.wallMs,
      singleNodeCpuSeconds: single.cpuSeconds,
    };
  } finally {
    await Promise.allSettled(processes.map((p) => p.stop()));
    await nats.close();
    await nginx.stop();
  }
}
