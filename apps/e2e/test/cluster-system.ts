import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FaultPlan, Source } from '@tessera/simulator';
import {
  freePort,
  getJson,
  type NatsCluster,
  type RunningProcess,
  startApp,
  startNatsCluster,
  waitUntil,
} from '@tessera/testkit';

/** A lease short enough for tests to move quickly. */
export const LEASE_MS = 1_500;

/** Every node's ADMIN_TOKEN. */
export const ADMIN_TOKEN = 'cluster-operator-token-for-tests';

export interface ClusterNode {
  readonly name: string;
  readonly dataDir: string;
  readonly apiPort: number;
  /** The API's admin port (operator actions with ADMIN_TOKEN, /feeds, /metrics). */
  readonly adminPort: number;
  ingestor: RunningProcess | undefined;
  api: RunningProcess | undefined;
}

export interface NodeReady {
  status: string;
  role: string;
  events: number;
  version: number;
  replication: string;
  applied_sequence: number;
  latest_sequence: number;
  lag_ms: number;
  consecutive_failures: number;
  last_error_code: string | null;
}

/**
 * A Tessera cluster on this machine: three NATS JetStream servers, the partner simulator, and
 * nodes that each run an ingestor and an API on their own DATA_DIR, as `make run` would on
 * separate machines with NATS_URL set.
 */
export class ClusterSystem {
  nats!: NatsCluster;
  simPort = 0;
  sim: RunningProcess | undefined;
  readonly nodes: ClusterNode[] = [];
  private readonly root = mkdtempSync(join(tmpdir(), 'tessera-cluster.'));

  get feedUrl(): string {
    return `http://127.0.0.1:${this.simPort}/api/events`;
  }

  async start(
    nodes: number,
    source: Source,
    nats: { maxPayloadBytes?: number } = {},
  ): Promise<void> {
    this.nats = await startNatsCluster(3, nats);
    this.simPort = await freePort();
    this.sim = startApp('provider-sim', {
      SIM_PORT: String(this.simPort),
      SIM_SOURCE: JSON.stringify(source),
    });
    await this.sim.waitForOutput(/listening/);
    for (let i = 0; i < nodes; i++) await this.addNode();
  }

  /** A new node on an empty DATA_DIR. */
  async addNode(env: Record<string, string> = {}): Promise<ClusterNode> {
    const name = `node${this.nodes.length}`;
    const node: ClusterNode = {
      name,
      dataDir: join(this.root, name),
      apiPort: await freePort(),
      adminPort: await freePort(),
      ingestor: undefined,
      api: undefined,
    };
    this.nodes.push(node);
    await this.startNode(node, env);
    return node;
  }

  /** A node's ingestor and API, on its DATA_DIR (empty, or as a killed node left it). */
  async startNode(node: ClusterNode, env: Record<string, string> = {}): Promise<void> {
    this.startIngestor(node, env);
    node.api = startApp('api', {
      DATA_DIR: node.dataDir,
      PORT: String(node.apiPort),
      HOST: '127.0.0.1',
      API_WORKERS: '1',
      MAX_LAG_MS: '20000',
      ADMIN_PORT: String(node.adminPort),
      ADMIN_TOKEN,
    });
    await answering(node.api, node.apiPort, `${node.name}'s API`);
  }

  startIngestor(node: ClusterNode, env: Record<string, string> = {}): RunningProcess {
    node.ingestor = startApp('ingestor', {
      DATA_DIR: node.dataDir,
      PROVIDER_URL: this.feedUrl,
      NATS_URL: this.nats.url,
      NODE_ID: node.name,
      LEASE_MS: String(LEASE_MS),
      POLL_INTERVAL_MS: '300',
      BACKOFF_BASE_MS: '50',
      BACKOFF_MAX_MS: '300',
      HEADERS_TIMEOUT_MS: '2000',
      INGEST_NICE: '0',
      PARSE_THREADS: '1',
      ...env,
    });
    return node.ingestor;
  }

  async control(path: 'plan' | 'source', body: FaultPlan | Source): Promise<void> {
    const res = await fetch(`http://127.0.0.1:${this.simPort}/control/${path}`, {
      method: 'PUT',
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`simulator refused ${path}: ${await res.text()}`);
  }

  async release(): Promise<void> {
    await fetch(`http://127.0.0.1:${this.simPort}/control/release`, { method: 'POST' });
  }

  async ready(node: ClusterNode): Promise<NodeReady | undefined> {
    const body = await getJson<{ data: NodeReady | null }>(
      `http://127.0.0.1:${node.apiPort}/ready`,
    );
    return body?.data ?? undefined;
  }

  async search(
    node: ClusterNode,
    query = '',
  ): Promise<{ status: number; etag: string | null; body: string }> {
    const res = await fetch(`http://127.0.0.1:${node.apiPort}/search${query}`);
    return { status: res.status, etag: res.headers.get('etag'), body: await res.text() };
  }

  async leader(): Promise<ClusterNode> {
    return waitUntil(
      async () => {
        for (const node of this.nodes) {
          // A killed ingestor's last word (its status file) may still say "leader" for a while.
          const alive =
            node.ingestor !== undefined &&
            node.ingestor.child.exitCode === null &&
            node.ingestor.child.signalCode === null;
          if (alive && (await this.ready(node))?.role === 'leader') return node;
        }
        return undefined;
      },
      { what: 'a leader', timeoutMs: 20_000 },
    );
  }

  /** Every running node answers `query` with the same ETag and body, and `check` holds for it. */
  async converged(
    query = '',
    check: (body: string) => boolean = () => true,
    timeoutMs = 60_000,
  ): Promise<{ etag: string; body: string }> {
    return waitUntil(
      async () => {
        const answers = await Promise.all(
          this.nodes.filter((n) => n.api !== undefined).map((n) => this.search(n, query)),
        );
        const [first] = answers;
        if (first === undefined || first.status !== 200 || first.etag === null) return undefined;
        const same = answers.every(
          (a) => a.status === 200 && a.etag === first.etag && a.body === first.body,
        );
        return same && check(first.body) ? { etag: first.etag, body: first.body } : undefined;
      },
      { what: 'every node answering alike', timeoutMs },
    ).catch(async (error: Error) => {
      throw new Error(`${error.message}\n${await this.describe()}`);
    });
  }

  /** Each node's readiness and last log lines: what a failed test needs to be understood. */
  async describe(): Promise<string> {
    const parts: string[] = [];
    for (const node of this.nodes) {
      const ready = await this.ready(node).catch(() => undefined);
      const lines = (node.ingestor?.logs() ?? [])
        .filter((l) => l.outcome !== 'not_modified')
        .slice(-15)
        .map((l) => `    ${JSON.stringify(l).slice(0, 300)}`);
      parts.push(`${node.name}: ${JSON.stringify(ready)}`, ...lines);
    }
    return parts.join('\n');
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.nodes.flatMap((n) => [n.ingestor?.stop(), n.api?.stop()]));
    await this.sim?.stop();
    await this.nats?.close();
  }

  dispose(): void {
    for (const n of this.nodes) {
      n.ingestor?.signal('SIGKILL');
      n.api?.signal('SIGKILL');
    }
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** Seeds in the stored generated titles ("Generated show 12 (7)"): one, unless a feed was split. */
export function seedsIn(body: string): Set<number> {
  const seeds = new Set<number>();
  for (const match of body.matchAll(/Generated show \d+ \((\d+)\)/g)) seeds.add(Number(match[1]));
  return seeds;
}

export function eventCount(body: string): number {
  return (JSON.parse(body) as { data: { events: unknown[] } }).data.events.length;
}

/**
 * Waits until an API process answers /health; fails at once if it exits first, and either way
 * with the end of its output, so that a node that did not start says why.
 */
async function answering(api: RunningProcess, port: number, what: string): Promise<void> {
  let answered = false;
  const died = api.exited.then((code) => {
    if (!answered) throw new Error(`${what} exited (${code}) before answering`);
  });
  died.catch(() => {});
  try {
    await Promise.race([
      waitUntil(() => getJson(`http://127.0.0.1:${port}/health`), { what }),
      died,
    ]);
  } catch (error) {
    throw new Error(`${(error as Error).message}; its output ends:\n${api.output().slice(-4000)}`, {
      cause: error,
    });
  } finally {
    answered = true;
  }
}
