import { tamperWithStore, waitUntil } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterNode, ClusterSystem } from './cluster-system.js';
import { type GeneratedSource, type Step, scheduleFor, seedsToRun } from './truth/feed-schedule.js';
import {
  type Content,
  contentOf,
  describeDifference,
  ReferenceNode,
} from './truth/reference-node.js';

/**
 * Cluster truth, tested against the truth: after every quiescent point of a seeded fault
 * schedule, every node's whole `/search` is byte-equal to one single node that applied the same
 * feeds in order, and every node's state digest equals that node's. Nodes are never compared
 * with each other only: a cluster that agrees with itself can be wrong.
 *
 * `TRUTH_SEEDS=7,8` or `TRUTH_SEEDS=random:20` (what `make soak` sets) picks the schedules.
 */
const SEEDS = seedsToRun(process.env.TRUTH_SEEDS, [1, 2]);
const outcomes: string[] = [];

const alive = (node: ClusterNode): boolean =>
  node.ingestor !== undefined &&
  node.ingestor.child.exitCode === null &&
  node.ingestor.child.signalCode === null;

/** Runs one schedule on a fresh cluster of three nodes and a fresh reference. */
class TruthRun {
  readonly system = new ClusterSystem();
  readonly reference = new ReferenceNode();
  constructor(readonly seed: number) {}

  async start(first: GeneratedSource): Promise<void> {
    await this.system.start(3, first);
    await this.reference.start();
  }

  async stop(): Promise<void> {
    await this.system.stopAll().catch(() => {});
    this.system.dispose();
    await this.reference.stop();
  }

  private async serve(feed: GeneratedSource, plan: object = { steps: [], afterwards: 'none' }) {
    await this.system.control('plan', plan as never);
    await this.system.control('source', feed);
  }

  private publishes(node: ClusterNode): number {
    return node.ingestor?.logs().filter((l) => l.msg === 'publishing a batch').length ?? 0;
  }

  /** Kills `victim(leader)` the moment the leader starts publishing the batch of `feed`. */
  private async killWhenPublishing(
    feed: GeneratedSource,
    victim: (leader: ClusterNode) => ClusterNode,
  ): Promise<void> {
    const leader = await this.system.leader();
    const before = this.publishes(leader);
    await this.serve(feed);
    await waitUntil(() => this.publishes(leader) > before || undefined, {
      what: 'the leader publishing',
      timeoutMs: 60_000,
      intervalMs: 5,
    });
    await this.kill(victim(leader));
  }

  private async kill(node: ClusterNode): Promise<void> {
    node.ingestor!.signal('SIGKILL');
    await node.ingestor!.exited;
    this.system.startIngestor(node);
  }

  async run(step: Step): Promise<void> {
    const { system } = this;
    switch (step.kind) {
      case 'feed':
        await this.serve(step.feed);
        break;
      case 'broken_feed':
        await this.serve(step.feed, {
          steps: [
            step.fault === 'truncate'
              ? { kind: 'truncate', afterBytes: 5_000 }
              : { kind: 'malformed' },
          ],
          afterwards: 'repeat_last',
        });
        break;
      case 'kill_leader_mid_feed': {
        const leader = await system.leader();
        const staging = () =>
          leader.ingestor!.logs().filter((l) => l.msg === 'feed arriving: staging its records')
            .length;
        const before = staging();
        await this.serve(step.feed, {
          steps: [{ kind: 'hold', afterBytes: 20_000 }],
          afterwards: 'none',
        });
        await waitUntil(() => staging() > before || undefined, { what: 'the leader receiving' });
        await this.kill(leader);
        await system.release();
        break;
      }
      case 'kill_leader_mid_publish':
        await this.killWhenPublishing(step.feed, (leader) => leader);
        break;
      case 'kill_follower_mid_batch':
        await this.killWhenPublishing(
          step.feed,
          (leader) => system.nodes.find((n) => n !== leader && alive(n))!,
        );
        break;
      case 'kill_nats_server':
        await system.nats.kill(step.server);
        await this.serve(step.feed);
        await this.settle(step);
        await system.nats.restart(step.server);
        return;
      case 'nats_outage':
        await Promise.all([0, 1, 2].map((i) => system.nats.stop(i)));
        await this.serve(step.feed);
        await new Promise((r) => setTimeout(r, 1_500));
        for (const i of [0, 1, 2]) await system.nats.restart(i);
        break;
      case 'late_node':
        await this.serve(step.feed);
        await system.addNode();
        break;
    }
    await this.settle(step);
  }

  /**
   * The reference applies what the partner serves now (or fails as the cluster must), then
   * every node must come to serve exactly what the reference serves, and be ready.
   */
  async settle(step: Step): Promise<void> {
    const ingested = await this.reference.ingest(this.system.feedUrl);
    expect(ingested.ok, ingested.summary).toBe(step.kind !== 'broken_feed');
    if (step.kind === 'broken_feed') {
      // The cluster has seen the fault too before its content is compared.
      await waitUntil(
        async () => {
          const all = await Promise.all(this.system.nodes.map((n) => this.system.ready(n)));
          return all.every((r) => r !== undefined && r.consecutive_failures >= 1) || undefined;
        },
        { what: 'every node recording the broken feed', timeoutMs: 60_000 },
      );
    }
    const expected = await this.reference.content();
    let last: Array<{ node: string; content: Content }> = [];
    await waitUntil(
      async () => {
        last = await Promise.all(
          this.system.nodes.map(async (n) => ({
            node: n.name,
            content: await contentOf(n.apiPort),
          })),
        );
        return (
          last.every(
            (a) => a.content.body === expected.body && a.content.digest === expected.digest,
          ) || undefined
        );
      },
      { what: 'every node serving the reference', timeoutMs: 120_000 },
    ).catch(async (error: Error) => {
      const lines = last.map(
        (a) =>
          `  ${a.node}: digest ${a.content.digest} (reference ${expected.digest}); ${describeDifference(a.content.body, expected.body)}`,
      );
      throw new Error(
        `seed ${this.seed}, step ${step.kind}: ${error.message}\n${lines.join('\n')}\n${await this.system.describe()}`,
      );
    });
  }
}

afterAll(() => {
  if (outcomes.length > 0) console.log(`cluster truth: ${outcomes.join('; ')}`);
});

describe.each(SEEDS)('cluster truth, seed %i', (seed) => {
  const steps = scheduleFor(seed);
  const run = new TruthRun(seed);
  beforeAll(async () => {
    await run.start(steps[0]!.feed);
  }, 60_000);
  afterAll(() => run.stop());

  it(`every node equals the single-node reference after each step: ${steps.map((s) => s.kind).join(', ')}`, async () => {
    try {
      for (const step of steps) await run.run(step);
      outcomes.push(`seed ${seed} passed`);
    } catch (error) {
      outcomes.push(`seed ${seed} FAILED`);
      throw error;
    }
  }, 900_000);
});

describe('cluster truth, the reported scenario', () => {
  // Feed A (300 x 2 x 5), then feed B (20,000 x 2 x 20) reusing A's ids with new values, and
  // kill -9 of the leading node 2 s after the partner starts serving B.
  const run = new TruthRun(0);
  const A: GeneratedSource = {
    kind: 'generated',
    vocabulary: 'plan',
    bases: 300,
    eventsPerBase: 2,
    zonesPerEvent: 5,
    seed: 1,
    onlineRatio: 0.9,
    flawRatio: 0,
    shiftDays: 0,
  };
  const B: GeneratedSource = { ...A, bases: 20_000, zonesPerEvent: 20, seed: 2, shiftDays: 3 };
  beforeAll(() => run.start(A), 60_000);
  afterAll(() => run.stop());

  it('the survivors of a leader killed during feed B serve all of B, as one node does', async () => {
    await run.settle({ kind: 'feed', feed: A });
    const leader = await run.system.leader();
    await run.system.control('source', B);
    await new Promise((r) => setTimeout(r, 2_000));
    leader.ingestor!.signal('SIGKILL');
    await leader.ingestor!.exited;
    run.system.startIngestor(leader);
    await run.settle({ kind: 'feed', feed: B });
  }, 600_000);
});

describe('cluster truth, a store altered behind its back', () => {
  const run = new TruthRun(0);
  const feed: GeneratedSource = {
    kind: 'generated',
    vocabulary: 'plan',
    bases: 400,
    eventsPerBase: 2,
    zonesPerEvent: 3,
    seed: 11,
    onlineRatio: 1,
    flawRatio: 0,
    shiftDays: 0,
  };
  beforeAll(() => run.start(feed), 60_000);
  afterAll(() => run.stop());

  it("records deleted and changed in a stopped node's LMDB are detected and repaired without an operator", async () => {
    await run.settle({ kind: 'feed', feed });
    const leader = await run.system.leader();
    const victim = run.system.nodes.find((n) => n !== leader)!;
    await victim.ingestor!.stop();
    await tamperWithStore(victim.dataDir, { remove: 9, change: 1 });
    const ingestor = run.system.startIngestor(victim);
    await ingestor.waitForOutput(/"code":"state_diverged"/, 30_000);
    await run.settle({ kind: 'feed', feed });
  }, 300_000);
});
