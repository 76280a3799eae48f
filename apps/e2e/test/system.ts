import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FaultPlan, Source } from '@tessera/simulator';
import {
  freePort,
  getJson,
  type RunningProcess,
  type StartOptions,
  startApp,
  waitUntil,
} from '@tessera/testkit';

export interface Summary {
  id: string;
  title: string;
  start_date: string;
  start_time: string;
  end_date: string;
  end_time: string;
  min_price: number | null;
  max_price: number | null;
}

export interface Ready {
  data: {
    events: number;
    version: number;
    last_success_at: string | null;
    consecutive_failures: number;
    last_error_code: string | null;
  };
}

/**
 * The three processes on free ports with a temporary DATA_DIR, started and stopped by a test.
 * The directory's name has a dot in it, as `mktemp -d` gives: a store directory is a directory
 * whatever its name looks like.
 */
export class System {
  readonly dataDir = mkdtempSync(join(tmpdir(), 'tessera-e2e.'));
  simPort = 0;
  apiPort = 0;
  sim: RunningProcess | undefined;
  ingestor: RunningProcess | undefined;
  api: RunningProcess | undefined;

  get feedUrl(): string {
    return `http://127.0.0.1:${this.simPort}/api/events`;
  }

  async startSim(source: Source): Promise<void> {
    this.simPort ||= await freePort();
    this.sim = startApp('provider-sim', {
      SIM_PORT: String(this.simPort),
      SIM_SOURCE: JSON.stringify(source),
    });
    await waitUntil(() => getJson(`http://127.0.0.1:${this.simPort}/control/state`), {
      what: 'the simulator',
    });
  }

  async startApi(env: Record<string, string> = {}, options: StartOptions = {}): Promise<void> {
    this.apiPort ||= await freePort();
    this.api = startApp(
      'api',
      {
        PORT: String(this.apiPort),
        HOST: '127.0.0.1',
        DATA_DIR: this.dataDir,
        API_WORKERS: '2',
        ...env,
      },
      [],
      options,
    );
    await waitUntil(() => getJson(`http://127.0.0.1:${this.apiPort}/health`), { what: 'the API' });
  }

  /** The ingestor as a daemon, polling fast so that tests move quickly. */
  startIngestor(env: Record<string, string> = {}): RunningProcess {
    this.ingestor = startApp('ingestor', this.ingestorEnv(env));
    return this.ingestor;
  }

  /** One `--once` poll; resolves with the exit code and the summary line. */
  async ingestOnce(
    env: Record<string, string> = {},
  ): Promise<{ code: number | null; summary: string }> {
    const run = startApp('ingestor', this.ingestorEnv({ LOG_LEVEL: 'silent', ...env }), ['--once']);
    const code = await run.exited;
    return { code, summary: run.output().trim() };
  }

  ingestorEnv(env: Record<string, string>): Record<string, string> {
    return {
      DATA_DIR: this.dataDir,
      PROVIDER_URL: this.feedUrl,
      POLL_INTERVAL_MS: '200',
      BACKOFF_BASE_MS: '50',
      BACKOFF_MAX_MS: '200',
      HEADERS_TIMEOUT_MS: '1000',
      BODY_IDLE_TIMEOUT_MS: '1000',
      // Tests share the machine with other suites: the ingestor must not be the one starved.
      INGEST_NICE: '0',
      ...env,
    };
  }

  /** Lets responses held by a `hold` fault go on. */
  async release(): Promise<void> {
    await fetch(`http://127.0.0.1:${this.simPort}/control/release`, { method: 'POST' });
  }

  async control(path: 'plan' | 'source', body: FaultPlan | Source): Promise<void> {
    const res = await fetch(`http://127.0.0.1:${this.simPort}/control/${path}`, {
      method: 'PUT',
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`simulator refused ${path}: ${await res.text()}`);
  }

  async simState(): Promise<{
    requests: number;
    feedRequests: number;
    feedsServed: number;
    externalEntityHits: number;
    held: number;
  }> {
    return (await getJson(`http://127.0.0.1:${this.simPort}/control/state`)) as never;
  }

  async search(query = ''): Promise<Summary[]> {
    const res = await fetch(`http://127.0.0.1:${this.apiPort}/search${query}`);
    if (res.status !== 200) throw new Error(`search answered ${res.status}`);
    const body = (await res.json()) as { data: { events: Summary[] } };
    return body.data.events;
  }

  async ready(): Promise<Ready['data']> {
    const body = (await getJson<Ready>(`http://127.0.0.1:${this.apiPort}/ready`)) as Ready;
    return body.data;
  }

  async stopAll(): Promise<void> {
    await Promise.all([this.ingestor?.stop(), this.api?.stop(), this.sim?.stop()]);
  }

  async dispose(): Promise<void> {
    for (const p of [this.ingestor, this.api, this.sim]) p?.signal('SIGKILL');
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

export const SEED_WINDOW = '?starts_at=2021-02-01T00:00:00Z&ends_at=2022-07-03T00:00:00Z';
