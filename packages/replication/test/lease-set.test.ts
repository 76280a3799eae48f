import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { type NatsCluster, startNatsCluster, waitUntil } from '@tessera/testkit';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type LeaseSet, startLeaseSet } from '../src/lease-set.js';

const log = pino({ level: 'silent' });
const LEASE_MS = 1_000;
const FEEDS = ['f1', 'f2', 'f3', 'f4', 'f5', 'f6'];
let cluster: NatsCluster;
const connections: NatsConnection[] = [];
/**
 * Every moment a node took a feed another still polled. Collected, not thrown: a throw in the
 * handler would surface as an unhandled error after the test, not as this test's failure.
 */
let overlaps: string[] = [];

beforeAll(async () => {
  cluster = await startNatsCluster(3);
}, 30_000);
afterAll(async () => {
  for (const nc of connections) await nc.close().catch(() => {});
  await cluster.close();
});

interface Node {
  nc: NatsConnection;
  set: LeaseSet;
  /** The live nodes whose configuration differs from this one's, as last told by the set. */
  differing: string[];
}

async function node(
  nodeId: string,
  prefix: string,
  polling: Map<string, string>,
  configuration = 'same',
): Promise<Node> {
  const nc = await connect({ servers: cluster.url.split(','), maxReconnectAttempts: -1 });
  connections.push(nc);
  const kvm = new Kvm(nc);
  const options = { history: 1, replicas: 3, ttl: LEASE_MS };
  const told = { differing: [] as string[] };
  const set = startLeaseSet({
    leaseKv: await kvm.create(`${prefix}_lease`, options),
    nodesKv: await kvm.create(`${prefix}_nodes`, options),
    feeds: FEEDS,
    nodeId,
    leaseMs: LEASE_MS,
    log,
    configuration,
    onDiffering(nodes) {
      told.differing = nodes;
    },
    async onChange(feed, leading) {
      if (leading) {
        const other = polling.get(feed);
        if (other !== undefined && other !== nodeId) {
          overlaps.push(`${nodeId} leads ${feed}, which ${other} still polls`);
        }
        polling.set(feed, nodeId);
      } else {
        // A term takes a while to stop; the lease is released only after.
        await new Promise((r) => setTimeout(r, 50));
        if (polling.get(feed) === nodeId) polling.delete(feed);
      }
    },
  });
  return {
    nc,
    set,
    get differing() {
      return told.differing;
    },
  };
}

const counts = (nodes: Node[]) => nodes.map((n) => n.set.leading().length);
const everyFeedLed = (nodes: Node[]) =>
  new Set(nodes.flatMap((n) => n.set.leading())).size === FEEDS.length;

describe('the lease set', () => {
  beforeEach(() => {
    overlaps = [];
  });
  afterEach(() => {
    expect(overlaps, 'two nodes polled one feed at once').toEqual([]);
  });

  it('spreads six feeds over three nodes, two each, whatever order they start in; a node joining takes its share', async () => {
    const polling = new Map<string, string>();
    const a = await node('a', 'spread', polling);
    await waitUntil(() => a.set.leading().length === 6, { what: 'a alone leading all six' });
    const b = await node('b', 'spread', polling);
    await waitUntil(() => everyFeedLed([a, b]) && counts([a, b]).every((c) => c === 3), {
      what: 'three each over two nodes',
      timeoutMs: 10 * LEASE_MS,
    });
    const c = await node('c', 'spread', polling);
    await waitUntil(() => everyFeedLed([a, b, c]) && counts([a, b, c]).every((n) => n === 2), {
      what: 'two each over three nodes',
      timeoutMs: 10 * LEASE_MS,
    });
    // No feed led twice: the leases are disjoint.
    const led = [a, b, c].flatMap((n) => n.set.leading());
    expect(new Set(led).size).toBe(led.length);
    // And it stays so.
    await new Promise((r) => setTimeout(r, 2 * LEASE_MS));
    expect(counts([a, b, c])).toEqual([2, 2, 2]);
    await Promise.all([a, b, c].map((n) => n.set.close()));
  });

  it("a dead node's feeds move to the others within two lease periods, none over its share", async () => {
    const polling = new Map<string, string>();
    const nodes = [
      await node('a', 'death', polling),
      await node('b', 'death', polling),
      await node('c', 'death', polling),
    ];
    await waitUntil(() => everyFeedLed(nodes) && counts(nodes).every((n) => n === 2), {
      what: 'two each',
      timeoutMs: 10 * LEASE_MS,
    });
    const [dead, ...alive] = nodes as [Node, Node, Node];
    const orphans = dead.set.leading();
    // The node vanishes without a word: its connection is gone, its renewals with it.
    await dead.nc.close();
    const died = Date.now();
    await waitUntil(() => orphans.every((f) => alive.some((n) => n.set.leading().includes(f))), {
      what: "the dead node's feeds led again",
      timeoutMs: 10 * LEASE_MS,
    });
    expect(Date.now() - died).toBeLessThan(2 * LEASE_MS + 500);
    expect(counts(alive)).toEqual([3, 3]);
    await Promise.all(alive.map((n) => n.set.close()));
    await dead.set.close();
  });

  it('each node names the live nodes whose configuration differs from its own, and forgets a node gone', async () => {
    const polling = new Map<string, string>();
    const a = await node('a', 'config', polling, 'x');
    const b = await node('b', 'config', polling, 'x');
    const c = await node('c', 'config', polling, 'y');
    await waitUntil(
      () =>
        a.differing.join() === 'c' && b.differing.join() === 'c' && c.differing.join() === 'a,b',
      { what: 'a and b naming c, c naming a and b', timeoutMs: 10 * LEASE_MS },
    );
    await c.set.close();
    await waitUntil(() => a.differing.length === 0 && b.differing.length === 0, {
      what: 'a and b agreeing once c left',
      timeoutMs: 10 * LEASE_MS,
    });
    await Promise.all([a.set.close(), b.set.close()]);
  });

  it('a clean stop hands its feeds over at once', async () => {
    const polling = new Map<string, string>();
    const a = await node('a', 'stop', polling);
    const b = await node('b', 'stop', polling);
    await waitUntil(() => everyFeedLed([a, b]) && counts([a, b]).every((n) => n === 3), {
      what: 'three each',
      timeoutMs: 10 * LEASE_MS,
    });
    const stopped = Date.now();
    await a.set.close();
    await waitUntil(() => b.set.leading().length === 6, {
      what: 'b leading all six',
      timeoutMs: 10 * LEASE_MS,
    });
    expect(Date.now() - stopped).toBeLessThan(LEASE_MS + 500);
    await b.set.close();
  });
});
