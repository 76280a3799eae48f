import { getJson, waitUntil } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, type ClusterNode, ClusterSystem } from './cluster-system.js';

/**
 * Operator actions in a three-node cluster, sent to nodes that do not lead the feed: each reaches
 * the leader, and a pause is the cluster's (every node shows it; a new leader keeps it). The
 * polls' interval is ten minutes, so that a request the partner sees soon after an action is the
 * action's.
 */
const FEED = 'feverup';
let system: ClusterSystem;

beforeAll(async () => {
  system = new ClusterSystem();
  await system.start(0, { kind: 'fixtures', vocabulary: 'plan', response: 1 });
  for (let i = 0; i < 3; i++) await system.addNode({ POLL_INTERVAL_MS: '600000' });
  await system.converged('', (body) => body.includes('"events":[{'));
}, 120_000);
afterAll(async () => {
  await system?.stopAll();
});

const feedRequests = async (): Promise<number> =>
  ((await getJson(`http://127.0.0.1:${system.simPort}/control/state`)) as { feedRequests: number })
    .feedRequests;

async function act(node: ClusterNode, action: string) {
  const res = await fetch(`http://127.0.0.1:${node.adminPort}/feeds/${FEED}/${action}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  const body = (await res.json()) as {
    data: { outcome: string; paused: boolean; node: string } | null;
    error: { code: string } | null;
  };
  return { status: res.status, ...body };
}

async function pausedOn(node: ClusterNode): Promise<boolean | undefined> {
  const body = (await getJson(`http://127.0.0.1:${node.adminPort}/feeds`)) as {
    data: { feeds: Array<{ id: string; paused: boolean }> };
  };
  return body.data.feeds.find((f) => f.id === FEED)?.paused;
}

const others = (leader: ClusterNode) => system.nodes.filter((n) => n !== leader);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('operator actions in a cluster', () => {
  it('poll now through a node that does not lead the feed: the leader polls within a second', async () => {
    const leader = await system.leader();
    const [via] = others(leader);
    const before = await feedRequests();
    const answer = await act(via!, 'poll');
    expect(answer.status).toBe(202);
    expect(answer.data).toMatchObject({ outcome: 'polling', node: leader.name });
    await waitUntil(async () => (await feedRequests()) > before, {
      what: 'the partner to see the poll',
      timeoutMs: 1_000,
    });
  });

  it('pause through a follower holds on every node and across a change of leader; resume through another', async () => {
    const leader = await system.leader();
    const [first, second] = others(leader);
    const paused = await act(first!, 'pause');
    expect(paused).toMatchObject({ status: 200, data: { outcome: 'paused', node: leader.name } });
    for (const node of system.nodes) {
      await waitUntil(async () => (await pausedOn(node)) === true, {
        what: `${node.name} to show the pause`,
      });
    }
    expect((await act(second!, 'poll')).error?.code).toBe('feed_paused');
    // The leader goes; its successor's first term would poll at once, unless paused.
    const before = await feedRequests();
    leader.ingestor?.signal('SIGKILL');
    await leader.ingestor?.exited;
    const successor = await system.leader();
    expect(successor).not.toBe(leader);
    await pause(3_000);
    expect(await feedRequests()).toBe(before);
    const resumed = await act(others(successor).find((n) => n !== leader)!, 'resume');
    expect(resumed).toMatchObject({
      status: 200,
      data: { outcome: 'resumed', paused: false, node: successor.name },
    });
    await waitUntil(async () => (await feedRequests()) > before, {
      what: 'the new leader to poll again',
      timeoutMs: 2_000,
    });
  });
});
