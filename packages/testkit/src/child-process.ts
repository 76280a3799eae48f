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
  /** What was written to stdout alone, and to stderr alone. */
  stdout(): string;
  stderr(): string;
  /** Lines of stdout that are JSON log records. */
  logs(): Array<Record<string, unknown>>;
  /** Resolves with the first match of `pattern` in the output, once it appears. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Writes a line to the child's stdin (started with `stdin: true`). */
  send(line: string): void;
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM, then the exit code; SIGKILL if it has not exited in time. */
  stop(timeoutMs?: number): Promise<number | null>;
}

export interface StartOptions {
  env?: Record<string, string>;
  /** Keep stdin open for `send`. */
  stdin?: boolean;
  /** A command the process runs under, e.g. `['unshare', '--pid', '--fork']`. */
  wrapper?: readonly string[];
  cwd?: string;
  /**
   * Start it in a process group of its own, and signal the whole group, as a terminal does on
   * Ctrl-C: for a process (make, a shell) whose children must get the signal too.
   */
  group?: boolean;
}

/**
 * The one way tests and benchmarks start a process: output captured, JSON log lines parsed,
 * waits on output, stopped with SIGTERM then SIGKILL.
 */
export function startProcess(
  command: string,
  args: readonly string[],
  options: StartOptions = {},
): RunningProcess {
  const [file, ...rest] = [...(options.wrapper ?? []), command, ...args];
  const child = spawn(file!, rest, {
    env: { ...process.env, ...options.env },
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    cwd: options.cwd,
    detached: options.group === true,
  });
  const kill = (signal: NodeJS.Signals): void => {
    if (options.group === true && child.pid !== undefined) {
      try {
        process.kill(-child.pid, signal);
      } catch {
        // the group is gone already
      }
    } else {
      child.kill(signal);
    }
  };
  let out = '';
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return {
    child,
    exited,
    output: () => out,
    stdout: () => stdout,
    stderr: () => stderr,
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
    async waitForOutput(pattern, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const match = pattern.exec(out);
        if (match !== null) return match;
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`${command} exited before printing ${pattern}:\n${out}`);
        }
        if (Date.now() > until) {
          throw new Error(`timed out after ${timeoutMs} ms waiting for ${pattern}:\n${out}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    send(line) {
      child.stdin?.write(`${line}\n`);
    },
    signal: kill,
    async stop(timeoutMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      kill('SIGTERM');
      const timer = setTimeout(() => kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** A Node script as a child process. */
export function startNode(
  script: string,
  args: readonly string[] = [],
  options: StartOptions = {},
): RunningProcess {
  return startProcess(process.execPath, [script, ...args], options);
}

/**
 * Node options each app runs with. The Makefile and the Dockerfile cannot import this table, so a
 * contract test (apps/e2e/test/launch-options.test.ts) holds them to it.
 */
export const APP_NODE_OPTIONS: Record<AppName, readonly string[]> = {
  api: [],
  // Node 26's V8 hands a stopped isolate's heap pages to the other isolates' memory pool, which
  // never gives them back: the parse threads, stopped before a large feed's apply to return their
  // heaps, kept ~35 MiB resident for the rest of the process (decisions.md, 11).
  // A small young generation: the feed's bytes pass through the main thread as short-lived
  // Buffers, and with the default 16 MiB semi-spaces tens of MB of them wait for a collection.
  ingestor: ['--no-memory-pool-share-memory-on-teardown', '--max-semi-space-size=2'],
  'provider-sim': [],
};

/**
 * Environment each app runs with, before its settings: tuning of the C library, which must be
 * set before the process starts. Held to the Makefile and the Dockerfile as APP_NODE_OPTIONS is.
 */
export const APP_ENVIRONMENT: Record<AppName, Readonly<Record<string, string>>> = {
  // An uncached answer is a buffer of its own, hundreds of KiB for a long window. glibc serves
  // those from mmap (past 128 KiB) or gives freed heap back at once (past 128 KiB free at the
  // top), so every such answer paid fresh pages: an uncached 1,000-event window served 1.8x as
  // many requests with these (docs/benchmarks-notes.md), for about 40 MiB more RSS under load.
  api: { MALLOC_MMAP_THRESHOLD_: '8388608', MALLOC_TRIM_THRESHOLD_: '67108864' },
  // Two malloc arenas rather than one per thread (eight per core): the parse threads' arenas keep
  // what they freed after the threads stop, where the apply that follows cannot reuse it (1 GB
  // first ingest: peak RSS 206 against 215 MiB, its duration unchanged; docs/benchmarks-notes.md).
  ingestor: { MALLOC_ARENA_MAX: '2' },
  'provider-sim': {},
};

/** A built Tessera app as a child process with the given environment. */
export function startApp(
  app: AppName,
  env: Record<string, string>,
  args: readonly string[] = [],
  options: Omit<StartOptions, 'env'> = {},
): RunningProcess {
  return startProcess(process.execPath, [...APP_NODE_OPTIONS[app], appMain(app), ...args], {
    ...options,
    env: { LOG_LEVEL: 'info', ...APP_ENVIRONMENT[app], ...env },
  });
}
