import { waitUntil } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterNode, ClusterSystem } from './cluster-system.js';

/**
 * A consumer behind a load balancer may reconnect to any node with its token: the same token
 * names the same place in the change log on every node. It lists one node, follows it through
 * feed rounds, switches to another node mid-stream, and must end with exactly the cluster's
 * final /search answer, having seen no change twice.
 */
const system = new ClusterSystem();
const evolving = {
  kind: 'generated' as const,
  bases: 12,
  eventsPerBase: 3,
  zonesPerEvent: 2,
  seed: 9,
};

beforeAll(async () => {
  await system.start(3, { ...evolving, evolve: true });
}, 60_000);
afterAll(async () => {
  await system.stopAll();
  system.dispose();
});

interface Change {
  token: string;
  event: { id: string };
}

/** One long-poll page of a node's /changes. */
async function page(
  node: ClusterNode,
  since: string,
): Promise<{ changes: Change[]; next: string }> {
  const res = await fetch(
    `http://127.0.0.1:${node.apiPort}/changes?since=${since}&wait=1&limit=50`,
  );
  expect(res.status, await system.describe()).toBe(200);
  return ((await res.json()) as { data: { changes: Change[]; next: string } }).data;
}

describe('the change feed of a cluster', () => {
  it('lets a consumer switch nodes with its token, missing nothing and seeing nothing twice', async () => {
    const [first, second] = system.nodes as [ClusterNode, ClusterNode];
    await waitUntil(async () => ((await system.ready(first))?.events ?? 0) > 0, {
      what: 'a first feed on the first node',
    });
    const res = await fetch(`http://127.0.0.1:${first.apiPort}/search`);
    let token = res.headers.get('changes-token')!;
    const body = (await res.json()) as { data: { events: Array<{ id: string }> } };
    const copy = new Map(body.data.events.map((e) => [e.id, JSON.stringify(e)]));
    const seen: string[] = [];
    const follow = async (node: ClusterNode, rounds: number) => {
      const changed = () => seen.length;
      const until = changed() + rounds;
      await waitUntil(
        async () => {
          const { changes, next } = await page(node, token);
          for (const change of changes) {
            seen.push(change.token);
            copy.set(change.event.id, JSON.stringify(change.event));
          }
          token = next;
          return changed() >= until;
        },
        { what: `changes from ${node.name}`, timeoutMs: 60_000 },
      );
    };

    await follow(first, 100);
    // Mid-stream, to another node: its token is valid there, and it carries on from it.
    await follow(second, 100);
    // The partner stops changing; once every node serves the same, the consumer catches up.
    await system.control('source', { ...evolving, evolve: false });
    const final = await waitUntil(
      async () => {
        const a = await system.converged();
        await new Promise((resolve) => setTimeout(resolve, 2 * 300 + 500));
        const b = await system.converged();
        return a.etag === b.etag ? b : undefined;
      },
      { what: 'the cluster to stop changing', timeoutMs: 60_000 },
    );
    for (;;) {
      const { changes, next } = await page(second, token);
      if (changes.length === 0) break;
      for (const change of changes) {
        seen.push(change.token);
        copy.set(change.event.id, JSON.stringify(change.event));
      }
      token = next;
    }
    const events = (JSON.parse(final.body) as { data: { events: Array<{ id: string }> } }).data
      .events;
    const expected = new Map(events.map((e) => [e.id, JSON.stringify(e)]));
    expect([...copy].sort()).toEqual([...expected].sort());
    expect(new Set(seen).size).toBe(seen.length);
  });
});
