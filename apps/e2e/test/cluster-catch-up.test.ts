import { startApp, waitUntil } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterSystem, eventCount } from './cluster-system.js';
import { describeDifference, ReferenceNode } from './truth/reference-node.js';

/**
 * A node that starts empty catches up in time proportional to the state, not to the history:
 * the leader writes checkpoints into the stream and purges what came before them.
 */
const system = new ClusterSystem();
/** A single node fed the same feeds once the churn has stopped: what the new node must serve. */
const reference = new ReferenceNode();
const BASES = 1_000;
/**
 * Two feeds from the same churning document: each feed's checkpoint purges its history from
 * between the other's messages, so the new node reads a stream with gaps, and must end ready.
 */
const FEED_IDS = ['churn-a', 'churn-b'];
const EVENTS = BASES * 2 * FEED_IDS.length;
const churn = {
  kind: 'generated' as const,
  bases: BASES,
  eventsPerBase: 2,
  zonesPerEvent: 5,
  onlineRatio: 1,
};

/**
 * Messages of at most 32 KiB (batches of 16 KiB parts): the state's checkpoint is dozens of
 * parts, more than the publisher keeps in flight. Its purge once used the first part still in
 * flight as the checkpoint's start and deleted the checkpoint's own head: a node that started
 * empty, or re-synced, could then never converge.
 */
const MAX_PAYLOAD_BYTES = 32 * 1024;

beforeAll(async () => {
  // Every poll a different feed: every event changes, fifty times.
  await system.start(
    0,
    { ...churn, seed: 1, evolve: true },
    { maxPayloadBytes: MAX_PAYLOAD_BYTES },
  );
  for (let i = 0; i < 2; i++) await system.addNode(feeds());
  await reference.start();
}, 60_000);

function feeds(): { FEEDS: string } {
  return { FEEDS: JSON.stringify(FEED_IDS.map((id) => ({ id, url: `${system.feedUrl}?${id}` }))) };
}
afterAll(async () => {
  await system.stopAll();
  system.dispose();
  await reference.stop();
});

describe('catching up', () => {
  it('after 50 feeds of churn, a new node on an empty DATA_DIR converges reading about the state, not fifty feeds', async () => {
    const applied = () =>
      system.nodes.reduce(
        (n, node) =>
          n + (node.ingestor?.logs().filter((l) => l.msg === 'poll applied').length ?? 0),
        0,
      );
    await waitUntil(() => applied() >= 50, {
      what: 'fifty feeds',
      timeoutMs: 240_000,
      intervalMs: 200,
    });
    await system.control('source', { ...churn, seed: 999 });
    await system.converged('', (body) => body.includes('(999)') && eventCount(body) === EVENTS);

    const checkpoints = system.nodes.flatMap(
      (node) =>
        node.ingestor?.logs().filter((l) => String(l.msg).startsWith('checkpoint written')) ?? [],
    );
    // The state is every feed's last checkpoint; each is dozens of parts.
    const lastBytes = FEED_IDS.map((id) =>
      Number(checkpoints.filter((l) => l.feed === id).at(-1)?.bytes),
    );
    for (const bytes of lastBytes) expect(bytes / (MAX_PAYLOAD_BYTES / 2)).toBeGreaterThan(20);
    const stateBytes = lastBytes.reduce((sum, bytes) => sum + bytes, 0);

    const fresh = await system.addNode(feeds());
    const caughtUp = await fresh.ingestor!.waitForOutput(
      /"msg":"caught up with the cluster"/,
      60_000,
    );
    const line = fresh.ingestor!.logs().find((l) => l.msg === 'caught up with the cluster')!;
    expect(caughtUp).toBeTruthy();
    await system.converged('', (body) => body.includes('(999)') && eventCount(body) === EVENTS);
    // Not only equal to the other nodes: equal to one node that read the same feeds once.
    const run = await reference.ingest(feeds());
    expect(run.ok, run.summary).toBe(true);
    const truth = await reference.content();
    const mine = await system.search(fresh);
    expect(mine.body === truth.body, describeDifference(mine.body, truth.body)).toBe(true);
    // Caught up, it is ready: not "behind" by messages that were purged.
    await waitUntil(async () => (await system.ready(fresh))?.events === EVENTS, {
      what: 'the new node ready',
      timeoutMs: 20_000,
    });

    // Fifty feeds published about fifty states' worth; the new node read a few at most.
    const published = Number((await system.ready(fresh))?.latest_sequence);
    expect(Number(line.bytes)).toBeLessThan(4 * stateBytes);
    expect(Number(line.messages)).toBeLessThan(published / 5);
  });

  it('a malformed NATS_URL stops the ingestor at boot with one line naming it', async () => {
    const run = startApp('ingestor', {
      NATS_URL: 'nats://ok:4222,not a server',
      DATA_DIR: system.nodes[0]!.dataDir,
    });
    expect(await run.exited).toBe(2);
    const lines = run.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^invalid setting NATS_URL: /);
  });
});
