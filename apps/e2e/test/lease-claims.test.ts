import { getJson, waitUntil } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterNode, ClusterSystem, LEASE_MS } from './cluster-system.js';

/**
 * `/ready`'s `leading_feeds` means "the feeds this node polls", and a load balancer, an operator
 * or an alert on "a feed led twice" reads it as such. Every node's /ready is sampled while a
 * leader is paused past its leases and woken, and while an ingestor is killed and restarted at
 * once; no feed may be claimed by two nodes in an order that proves both claimed it at once.
 */
const FEED_IDS = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'];
const system = new ClusterSystem();

interface Sample {
  node: string;
  sent: number;
  received: number;
  feeds: string[];
}

/** Samples every node's /ready, one request per node at a time, until stopped. */
function sampleReadiness(nodes: ClusterNode[]): { stop(): Promise<Sample[]> } {
  const samples: Sample[] = [];
  let running = true;
  const loops = nodes.map(async (node) => {
    while (running) {
      const sent = performance.now();
      const body = await getJson<{ data: { leading_feeds?: string[] } | null }>(
        `http://127.0.0.1:${node.apiPort}/ready`,
      );
      const received = performance.now();
      samples.push({ node: node.name, sent, received, feeds: body?.data?.leading_feeds ?? [] });
      await new Promise((r) => setTimeout(r, 20));
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return samples;
    },
  };
}

/**
 * Claims that prove two nodes claimed a feed at once: node X claims it in two samples in a row,
 * and node Y claims it in a sample sent after the first of them was answered and answered before
 * the second was sent. (X cannot lose a lease and take it back within a few tens of ms: taking
 * needs the key to expire, a whole lease.)
 */
function provenOverlaps(samples: Sample[]): string[] {
  const found: string[] = [];
  const byNode = Map.groupBy(samples, (s) => s.node);
  for (const [x, mine] of byNode) {
    mine.sort((a, b) => a.sent - b.sent);
    for (let i = 0; i + 1 < mine.length; i++) {
      const [before, after] = [mine[i]!, mine[i + 1]!];
      for (const feed of before.feeds.filter((f) => after.feeds.includes(f))) {
        const other = samples.find(
          (s) =>
            s.node !== x &&
            s.feeds.includes(feed) &&
            s.sent > before.received &&
            s.received < after.sent,
        );
        if (other !== undefined) {
          found.push(
            `${feed}: ${x} at ${before.received.toFixed(0)} and ${after.sent.toFixed(0)} ms, ${other.node} between`,
          );
        }
      }
    }
  }
  return found;
}

async function leadingOf(node: ClusterNode): Promise<string[]> {
  return (
    ((await system.ready(node)) as { leading_feeds?: string[] } | undefined)?.leading_feeds ?? []
  );
}

/** Every feed led by exactly one node, two each. */
async function spread(): Promise<Map<ClusterNode, string[]>> {
  return waitUntil(
    async () => {
      const leading = new Map<ClusterNode, string[]>();
      for (const node of system.nodes) leading.set(node, await leadingOf(node));
      const all = [...leading.values()].flat();
      const whole = new Set(all).size === FEED_IDS.length && all.length === FEED_IDS.length;
      return whole && [...leading.values()].every((l) => l.length === 2) ? leading : undefined;
    },
    { what: 'every feed led, two per node', timeoutMs: 30 * LEASE_MS },
  ).catch(async (error: Error) => {
    throw new Error(`${error.message}\n${await system.describe()}`);
  });
}

beforeAll(async () => {
  await system.start(0, { kind: 'fixtures', vocabulary: 'plan', response: 1 });
  const feeds = JSON.stringify(FEED_IDS.map((id) => ({ id, url: `${system.feedUrl}?feed=${id}` })));
  for (let i = 0; i < 3; i++) await system.addNode({ FEEDS: feeds });
}, 120_000);
afterAll(async () => {
  await system.stopAll();
  system.dispose();
});

describe('/ready never claims a lease its node no longer holds', () => {
  it('a leader paused (SIGSTOP) past its leases, then woken: no feed claimed twice', async () => {
    const leading = await spread();
    const [paused] = [...leading.keys()] as [ClusterNode];
    const orphans = leading.get(paused)!;
    const sampler = sampleReadiness(system.nodes);
    paused.ingestor!.signal('SIGSTOP');
    const others = system.nodes.filter((n) => n !== paused);
    try {
      // The others take the paused node's feeds once its keys expire.
      await waitUntil(
        async () => {
          const led = (await Promise.all(others.map(leadingOf))).flat();
          return orphans.every((f) => led.includes(f));
        },
        { what: "the paused node's feeds taken by the others", timeoutMs: 10 * LEASE_MS },
      );
      // Meanwhile the paused node's API claims none of them: its leases' cover has ended.
      expect(await leadingOf(paused)).toEqual([]);
      await new Promise((r) => setTimeout(r, LEASE_MS));
    } finally {
      paused.ingestor!.signal('SIGCONT');
    }
    // Woken, it applies what arrived during the pause and rewrites its status at once.
    await new Promise((r) => setTimeout(r, 2 * LEASE_MS));
    const samples = await sampler.stop();
    expect(samples.length).toBeGreaterThan(100);
    expect(provenOverlaps(samples)).toEqual([]);
  });

  it("an ingestor killed (-9) and started again at once: its API does not claim the dead process's leases", async () => {
    const leading = await spread();
    const [victim] = [...leading.keys()] as [ClusterNode];
    const sampler = sampleReadiness(system.nodes);
    victim.ingestor!.signal('SIGKILL');
    await victim.ingestor!.exited;
    // The API, still running, reads the status file the dead process left.
    expect(await leadingOf(victim)).toEqual([]);
    system.startIngestor(victim, {
      FEEDS: JSON.stringify(FEED_IDS.map((id) => ({ id, url: `${system.feedUrl}?feed=${id}` }))),
    });
    await new Promise((r) => setTimeout(r, 4 * LEASE_MS));
    const samples = await sampler.stop();
    expect(provenOverlaps(samples)).toEqual([]);
    await spread();
  });
});
