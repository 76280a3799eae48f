import { createWriteStream, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { basesForBytes, generateFeed } from '@tessera/simulator';
import {
  freePort,
  getJson,
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
  const ids = Array.from({ length: FEEDS }, (_, i) => `partner-${i}`);
  const feeds = JSON.stringify(ids.map((id) => ({ id, url: `${nginx.origin}/${id}.xml` })));
  const bases = basesForBytes(FEED_MB * 1e6, { eventsPerBase: 3, zonesPerEvent: 10 });
  /** Writes a round's documents aside, in `next/`, where only the reference reads them. */
  const prepare = async (round: number): Promise<void> => {
    mkdirSync(join(nginx.root, 'next'), { recursive: true });
    for (const [i, id] of ids.entries()) {
      const options = { eventsPerBase: 3, zonesPerEvent: 10, bases, seed: round * 100 + i };
      await pipeline(
        Readable.from(generateFeed(options)),
        createWriteStream(join(nginx.root, 'next', `${id}.xml`)),
      );
    }
  };
  /** What the cluster's partners answer from now on: the prepared round. */
  const publish = (): void => {
    for (const id of ids)
      renameSync(join(nginx.root, 'next', `${id}.xml`), join(nginx.root, `${id}.xml`));
  };
  const nextFeeds = JSON.stringify(
    ids.map((id) => ({ id, url: `${nginx.origin}/next/${id}.xml` })),
  );
  try {
    await prepare(1);
    // The reference: one single node ingesting each round's documents into the same store.
    const reference = ctx.dir('cluster-feeds-reference');
    const referencePort = await freePort();
    const singleNode = async (): Promise<{ wallMs: number; cpuSeconds: number }> => {
      const started = Date.now();
      const run = startApp(
        'ingestor',
        { LOG_LEVEL: 'silent', DATA_DIR: reference, FEEDS: nextFeeds },
        ['--once'],
      );
      let cpuSeconds = 0;
      const sampling = setInterval(() => {
        cpuSeconds = Math.max(cpuSeconds, treeCpuSeconds(run.child.pid!));
      }, 20);
      const code = await run.exited;
      clearInterval(sampling);
      if (code !== 0) throw new Error(`the single node's ingest failed: ${run.output()}`);
      return { wallMs: Date.now() - started, cpuSeconds };
    };
    // The first documents, everywhere before the nodes start (a node is ready once it holds one).
    await singleNode();
    publish();
    const referenceApi = startApp('api', {
      DATA_DIR: reference,
      PORT: String(referencePort),
      HOST: '127.0.0.1',
      API_WORKERS: '1',
      LOG_LEVEL: 'warn',
    });
    processes.push(referenceApi);
    await waitUntil(() => getJson(`http://127.0.0.1:${referencePort}/health`), {
      what: 'the reference API',
    });
    const nodes: Array<{ name: string; apiPort: number; ingestor: RunningProcess }> = [];
    for (let i = 0; i < NODES; i++) {
      const dir = ctx.dir(`cluster-feeds-${i}`);
      const apiPort = await freePort();
      const name = `node-${i}`;
      const ingestor = startApp('ingestor', {
        DATA_DIR: dir,
        FEEDS: feeds,
        NATS_URL: nats.url,
        NODE_ID: name,
        LEASE_MS: String(LEASE_MS),
        POLL_INTERVAL_MS: '1000',
        LOG_LEVEL: 'warn',
      });
      const api = startApp('api', {
        DATA_DIR: dir,
        PORT: String(apiPort),
        HOST: '127.0.0.1',
        API_WORKERS: '1',
        LOG_LEVEL: 'warn',
      });
      processes.push(ingestor, api);
      nodes.push({ name, apiPort, ingestor });
      await waitUntil(() => getJson(`http://127.0.0.1:${apiPort}/health`), { what: 'a node API' });
    }
    const lastStarted = Date.now();
    const ready = (port: number) =>
      getJson<{ data: { leading_feeds?: string[]; state_digest?: string } | null }>(
        `http://127.0.0.1:${port}/ready`,
      ).then((body) => body?.data ?? undefined);
    ctx.log(`cluster-feeds: ${FEEDS} feeds of ~${FEED_MB} MB over ${NODES} nodes`);
    const leading = await waitUntil(
      async () => {
        const each = await Promise.all(
          nodes.map(async (n) => (await ready(n.apiPort))?.leading_feeds ?? []),
        );
        const all = each.flat();
        const share = Math.ceil(FEEDS / NODES);
        return new Set(all).size === FEEDS && each.every((l) => l.length <= share)
          ? each
          : undefined;
      },
      { what: 'the leases spread', timeoutMs: 120_000, intervalMs: 100 },
    );
    const spreadMs = Date.now() - lastStarted;
    const converged = async (timeoutMs: number): Promise<void> => {
      const truth = await waitUntil(async () => (await ready(referencePort))?.state_digest, {
        what: 'the reference digest',
      });
      await waitUntil(
        async () => {
          const digests = await Promise.all(
            nodes.map(async (n) => (await ready(n.apiPort))?.state_digest),
          );
          return digests.every((d) => d === truth) || undefined;
        },
        { what: 'every node equal to the single node', timeoutMs, intervalMs: 50 },
      );
    };
    await converged(300_000);

    // The measured round: new documents for every feed, the single node first (the cluster,
    // meanwhile, polls unchanged documents), then the cluster's partners.
    await prepare(2);
    const single = await singleNode();
    const cpuBefore = nodes.map((n) => treeCpuSeconds(n.ingestor.child.pid!));
    const publishedAt = Date.now();
    publish();
    await converged(300_000);
    const convergeMs = Date.now() - publishedAt;
    const perNode = nodes.map((n, i) => ({
      node: n.name,
      leading: leading[i] ?? [],
      cpuSeconds: treeCpuSeconds(n.ingestor.child.pid!) - cpuBefore[i]!,
    }));
    ctx.command(
      `3 local nats-server -js; 3 nodes with FEEDS='[{"id":"partner-0","url":"http://nginx/partner-0.xml"},…]' (6 feeds of ~${FEED_MB} MB), NATS_URL, LEASE_MS=${LEASE_MS}, POLL_INTERVAL_MS=1000; beside them ingestor --once with the same FEEDS`,
    );
    return {
      nodes: NODES,
      feeds: FEEDS,
      feedMb: FEED_MB,
      leaseMs: LEASE_MS,
      spreadMs,
      perNode,
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
