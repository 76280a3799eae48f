import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, found from this package's location (packages/testkit/dist). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export type AppName = 'api' | 'ingestor' | 'provider-sim';

export function appMain(app: AppName): string {
  const main = join(REPO_ROOT, 'apps', app, 'dist', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run the build first`);
  return main;
}

export interface RunningProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Lines of stdout that are JSON log records. */
  logs(): Array<Record<string, unknown>>;
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM, then the exit code; SIGKILL if it has not exited in time. */
  stop(timeoutMs?: number): Promise<number | null>;
}

/** Starts a built Tessera app as a child process with the given environment. */
export function startApp(
  app: AppName,
  env: Record<string, string>,
  args: string[] = [],
): RunningProcess {
  const child = spawn(process.execPath, [appMain(app), ...args], {
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return {
    child,
    exited,
    output: () => out,
    logs: () =>
      out
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => {
          try {
            return JSON.parse(line) as Record<string, unknown>;
          } catch {
            return {};
          }
        }),
    signal: (signal) => {
      child.kill(signal);
    },
    async stop(timeoutMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
