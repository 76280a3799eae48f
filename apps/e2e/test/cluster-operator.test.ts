import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getJson, waitUntil } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, type ClusterNode, ClusterSystem, eventCount } from './cluster-system.js';
import { SEED_WINDOW } from './system.js';

/**
 * Operator actions in a three-node cluster, sent to nodes that do not lead the feed: each reaches
 * the leader, and a pause is the cluster's (every node shows it; a new leader keeps it). The
 * polls' interval is ten minutes, so that a request the partner sees soon after an action is the
 * action's.
 */
const FEED = 'feverup';
let system: ClusterSystem;

/** One FEEDS file for every node, as one ConfigMap is mounted in every pod. */
const feedsDir = mkdtempSync(join(tmpdir(), 'tessera-cluster-feeds.'));
const feedsFile = join(feedsDir, 'feeds.json');

beforeAll(async () => {
  system = new ClusterSystem();
  await system.start(0, { kind: 'fixtures', vocabulary: 'plan', response: 1 });
  writeFileSync(feedsFile, JSON.stringify([{ id: FEED, url: system.feedUrl }]));
  for (let i = 0; i < 3; i++) {
    await system.addNode({ POLL_INTERVAL_MS: '600000', FEEDS: `@${feedsFile}` });
  }
  await system.converged(SEED_WINDOW, (body) => body.includes('"events":[{'));
}, 120_000);
afterAll(async () => {
  await system?.stopAll();
  rmSync(feedsDir, { recursive: true, force: true });
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

interface FeedStatus {
  id: string;
  configured: boolean;
  paused: boolean;
  events: number;
}
async function feedsOn(node: ClusterNode): Promise<FeedStatus[]> {
  const body = (await getJson(`http://127.0.0.1:${node.adminPort}/feeds`)) as {
    data: { feeds: FeedStatus[] };
  };
  return body.data.feeds;
}
const pausedOn = async (node: ClusterNode) =>
  (await feedsOn(node)).find((f) => f.id === FEED)?.paused;

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

describe('a FEEDS reload in a cluster', () => {
  it('adds a feed that some node leads and every node applies; a broken FEEDS changes nothing', async () => {
    // The node whose ingestor the pause test killed comes back first.
    for (const node of system.nodes) {
      if (node.ingestor?.child.exitCode === null && node.ingestor.child.signalCode === null)
        continue;
      system.startIngestor(node, { POLL_INTERVAL_MS: '600000', FEEDS: `@${feedsFile}` });
    }
    const { body } = await system.converged(SEED_WINDOW, (b) => b.includes('"events":[{'));
    const events = eventCount(body);
    // The same answers under another feed are other events.
    writeFileSync(
      feedsFile,
      JSON.stringify([
        { id: FEED, url: system.feedUrl },
        { id: 'second', url: `${system.feedUrl}?second` },
      ]),
    );
    await system.converged(SEED_WINDOW, (body) => eventCount(body) === events * 2);
    // Each node reloads its own file: the events of `second` may reach a node from the stream
    // (its leader is elsewhere) before that node has read the new FEEDS itself.
    for (const node of system.nodes) {
      await waitUntil(
        async () => (await feedsOn(node)).find((f) => f.id === 'second')?.configured === true,
        { what: `${node.name} to configure feed second` },
      );
    }
    writeFileSync(feedsFile, '[{"id": "second", "url": "not a url"}');
    for (const node of system.nodes) {
      await waitUntil(() => node.ingestor?.output().includes('FEEDS reload refused'), {
        what: `${node.name} to refuse the broken FEEDS`,
      });
    }
    for (const node of system.nodes) {
      expect(
        (await feedsOn(node)).filter((f) => f.configured).map((f) => f.id),
        node.name,
      ).toEqual([FEED, 'second']);
    }
    // `second` changed: its leader keeps the lease and starts a new term at once, which polls
    // (nothing else would for ten minutes).
    const before = await feedRequests();
    writeFileSync(
      feedsFile,
      JSON.stringify([
        { id: FEED, url: system.feedUrl },
        { id: 'second', url: `${system.feedUrl}?second`, poll_interval_ms: 300_000 },
      ]),
    );
    await waitUntil(async () => (await feedRequests()) > before, {
      what: "the changed feed's new term to poll",
    });
    // Fixed, without `second`: its leader stops, its events stay on every node.
    writeFileSync(feedsFile, JSON.stringify([{ id: FEED, url: system.feedUrl }]));
    for (const node of system.nodes) {
      await waitUntil(
        async () => (await feedsOn(node)).find((f) => f.id === 'second')?.configured === false,
        { what: `${node.name} to drop feed second` },
      );
    }
    await system.converged(SEED_WINDOW, (body) => eventCount(body) === events * 2);
  }, 90_000);
});
