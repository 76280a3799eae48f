import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FaultPlan, Source } from '@tessera/simulator';
import {
  freePort,
  getJson,
  type RunningProcess,
  type StartOptions,
  startApp,
  startProcess,
  waitUntil,
} from '@tessera/testkit';
import type { BenchConfig } from './config.js';

/** What `--once --json` prints: the ingestor's poll report. */
export interface IngestReport {
  outcome: string;
  bytes: number;
  durationMs: number;
  events: number;
  counts: { inserted: number; updated: number; moved: number; unchanged: number } | null;
  peakRssMb: number;
  error: { code: string; message: string } | null;
  /** Where the time went (see PollPhases in the ingestor). */
  phases: {
    fetchMs: number;
    splitMs: number;
    waitMs: number;
    storeMs: number;
    decodeMs: number;
    condenseMs: number;
    saxMs: number;
    readMs: number;
  };
}

export interface RunningApi {
  api: RunningProcess;
  base: string;
}

/** What every scenario shares: settings, a work directory, the simulator, and how to start things. */
export interface BenchContext {
  readonly config: BenchConfig;
  /** A fresh directory in the run's work directory. */
  dir(name: string): string;
  log(message: string): void;
  /** Records a command line for the report, so that a reader can run it again. */
  command(line: string): void;
  readonly commands: string[];
  /** The partner stand-in; it stands for a remote machine, so it runs at low priority. */
  readonly feedUrl: string;
  setSource(source: Source): Promise<void>;
  setPlan(plan: FaultPlan): Promise<void>;
  /** Lets responses held by a `hold` fault go on. */
  release(): Promise<void>;
  /** This tree's API, or with `main` another build's (a baseline commit's, see baseline-tree.ts). */
  startApi(
    dataDir: string,
    env?: Record<string, string>,
    options?: StartOptions & { main?: string },
  ): Promise<RunningApi>;
  /** One `--once --json` poll into dataDir; fails the run if the poll fails. */
  ingestOnce(env: Record<string, string>): Promise<IngestReport>;
  close(): Promise<void>;
}

export async function createBenchContext(config: BenchConfig): Promise<BenchContext> {
  const work = mkdtempSync(join(tmpdir(), 'tessera-bench-'));
  const commands: string[] = [];
  const log = (message: string): void => {
    process.stdout.write(`[bench] ${message}\n`);
  };
  const simPort = await freePort();
  const sim = startApp('provider-sim', { SIM_PORT: String(simPort), LOG_LEVEL: 'warn' });
  if (sim.child.pid !== undefined) setPriority(sim.child.pid, 15);
  await sim.waitForOutput(/listening/);
  const simBase = `http://127.0.0.1:${simPort}`;
  const control = async (method: string, path: string, body?: unknown): Promise<void> => {
    const res = await fetch(`${simBase}/control/${path}`, {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`the simulator refused ${path}: ${await res.text()}`);
  };

  return {
    config,
    commands,
    log,
    command: (line) => commands.push(line),
    dir(name) {
      const path = join(work, name);
      rmSync(path, { recursive: true, force: true });
      mkdirSync(path, { recursive: true });
      return path;
    },
    feedUrl: `${simBase}/api/events`,
    setSource: (source) => control('PUT', 'source', source),
    setPlan: (plan) => control('PUT', 'plan', plan),
    release: () => control('POST', 'release'),
    async startApi(dataDir, env = {}, { main, ...options } = {}) {
      const port = await freePort();
      const apiEnv = {
        PORT: String(port),
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        API_WORKERS: '2',
        LOG_LEVEL: 'warn',
        ...env,
      };
      const api =
        main === undefined
          ? startApp('api', apiEnv, [], options)
          : startProcess(process.execPath, [main], { ...options, env: apiEnv });
      const base = `http://127.0.0.1:${port}`;
      await waitUntil(() => getJson(`${base}/health`), { what: 'the API' });
      return { api, base };
    },
    async ingestOnce(env) {
      const run = startApp(
        'ingestor',
        { LOG_LEVEL: 'silent', PROVIDER_URL: `${simBase}/api/events`, ...env },
        ['--once', '--json'],
      );
      const code = await run.exited;
      const line = run.output().trim().split('\n').pop() ?? '';
      if (code !== 0) throw new Error(`ingest failed (${code}): ${line}`);
      return JSON.parse(line) as IngestReport;
    },
    async close() {
      await sim.stop();
      rmSync(work, { recursive: true, force: true });
    },
  };
}
