import { execFileSync, spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  freePort,
  getJson,
  REPO_ROOT,
  type RunningProcess,
  startApp,
  startProcess,
  waitUntil,
} from '@tessera/testkit';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * The README's commands as a newcomer runs them, with DATA_DIR=$(mktemp -d) (whose name has a
 * dot). The build has run already: `-o build` tells make not to run it again.
 */
const running: RunningProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const p of running.splice(0)) await p.stop();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function make(target: string, env: Record<string, string>): Promise<RunningProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tmp.'));
  dirs.push(dataDir);
  const port = await freePort();
  const run = startProcess('make', ['--no-print-directory', '-o', 'build', target], {
    cwd: REPO_ROOT,
    group: true,
    env: { DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', API_WORKERS: '1', ...env },
  });
  running.push(run);
  const base = `http://127.0.0.1:${port}`;
  await waitUntil(
    async () => {
      const body = await getJson<{ data: { events: unknown[] } }>(`${base}/search`);
      return (body?.data.events.length ?? 0) > 0;
    },
    { what: `events from make ${target}`, timeoutMs: 30_000 },
  );
  return run;
}

/** Every process below `root`, read from /proc (each one's parent is field 4 of its stat). */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(parent, [...(children.get(parent) ?? []), Number(name)]);
  }
  const found: number[] = [];
  for (let queue = [root]; queue.length > 0; ) {
    const next = children.get(queue.shift()!) ?? [];
    found.push(...next);
    queue.push(...next);
  }
  return found;
}

/** A process's arguments (a shell's `-c` script is one of them, not its words). */
const commandLine = (pid: number): string[] => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
};

/** Ctrl-C: SIGINT to the whole group; every process stops cleanly. */
async function interrupt(run: RunningProcess): Promise<void> {
  run.signal('SIGINT');
  await run.exited;
  const messages = run.logs().map((line) => line.msg);
  expect(messages).toContain('api stopped');
  expect(messages).toContain('stopped');
}

describe('make targets on a fresh machine', () => {
  it('make demo serves the fixtures from DATA_DIR=$(mktemp -d)', async () => {
    const run = await make('demo', { SIM_PORT: String(await freePort()) });
    await interrupt(run);
  });

  it('make run serves the feed it is pointed at from DATA_DIR=$(mktemp -d), on the pinned runtime', async () => {
    const simPort = await freePort();
    const sim = startApp('provider-sim', { SIM_PORT: String(simPort) });
    running.push(sim);
    await sim.waitForOutput(/listening/);
    const run = await make('run', { PROVIDER_URL: `http://127.0.0.1:${simPort}/api/events` });
    // The runtime the kernel runs for each app: the one these tests run on, of the pinned line
    // (on a machine whose own Node is of another line, .tools/node/bin/node).
    // (`make test NODE_VERSION=x.y.z` runs the suite on another line on purpose.)
    const chosen =
      process.env.NODE_VERSION ?? readFileSync(join(REPO_ROOT, '.node-version'), 'utf8');
    const line = chosen.trim().split('.')[0];
    for (const app of ['api', 'ingestor']) {
      const pids = descendants(run.child.pid!).filter((pid) =>
        commandLine(pid).includes(`apps/${app}/dist/main.js`),
      );
      expect(pids.length, `${app} processes under make run`).toBeGreaterThan(0);
      for (const pid of pids) {
        const exe = readlinkSync(`/proc/${pid}/exe`);
        expect(exe, app).toBe(realpathSync(process.execPath));
        expect(execFileSync(exe, ['--version'], { encoding: 'utf8' })).toMatch(
          new RegExp(`^v${line}\\.`),
        );
      }
    }
    await interrupt(run);
  });
});

describe('the runtime make runs on', () => {
  /** What make would run to provide the runtime, with `node` of the given directory first on the PATH. */
  const provide = (nodeDir: string) =>
    spawnSync('make', ['-n', '--no-print-directory', 'node-runtime'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { ...process.env, PATH: `${nodeDir}:/usr/bin:/bin` },
    }).stdout;

  it("is the machine's own when its node is of the pinned line: nothing is downloaded", () => {
    expect(provide(dirname(process.execPath))).not.toContain('install-node');
  });

  it("is installed into .tools/node when the machine's node is of another line", () => {
    const other = spawnSync('/usr/bin/node', ['-p', 'process.versions.node'], { encoding: 'utf8' });
    const line = readFileSync(join(REPO_ROOT, '.node-version'), 'utf8').split('.')[0];
    if (other.status !== 0 || other.stdout.startsWith(`${line}.`)) return; // no such node here
    expect(provide('/usr/bin')).toMatch(
      /^scripts\/install-node \S+\/\.tools\/node \d+\.\d+\.\d+$/m,
    );
  });
});

describe('make ingest', () => {
  it("prints the failed poll in one line and exits 2, make's status for a failed command (the ingestor exits 1)", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tmp.'));
    dirs.push(dataDir);
    const run = startProcess('make', ['--no-print-directory', '-o', 'build', 'ingest'], {
      cwd: REPO_ROOT,
      env: {
        DATA_DIR: dataDir,
        PROVIDER_URL: 'http://127.0.0.1:1/api/events',
        LOG_LEVEL: 'silent',
      },
    });
    running.push(run);
    expect(await run.exited).toBe(2);
    expect(run.stdout()).toMatch(/^failed: .*error=provider_unreachable/);
    expect(run.stderr()).toMatch(/\[Makefile:\d+: ingest\] Error 1/);
  });
});

describe('CI summary (.ci/summarize-vitest.mjs)', () => {
  it('adds up the reports and names every failed test before the last line', () => {
    const root = mkdtempSync(join(tmpdir(), 'ci-summary-'));
    dirs.push(root);
    writeReport(join(root, 'a'), {
      numPassedTests: 3,
      numFailedTests: 1,
      testResults: [
        {
          name: '/x/a/test/one.test.ts',
          status: 'failed',
          assertionResults: [
            {
              fullName: 'suite > case',
              status: 'failed',
              failureMessages: ['AssertionError: no\n  at'],
            },
          ],
        },
      ],
    });
    writeReport(join(root, 'b'), {
      numPassedTests: 2,
      numFailedTests: 0,
      testResults: [
        {
          name: '/x/b/test/two.test.ts',
          status: 'failed',
          message: 'cannot load\nstack',
          assertionResults: [],
        },
      ],
    });
    const run = spawnSync('node', ['.ci/summarize-vitest.mjs', join(root, 'a'), join(root, 'b')], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    expect(run.status).toBe(1);
    expect(run.stdout.trim().split('\n').at(-1)).toBe('5 passed, 2 failed');
    expect(run.stderr).toContain('FAILED one.test.ts > suite > case: AssertionError: no');
    expect(run.stderr).toContain('FAILED two.test.ts: cannot load');
  });

  it('counts and names an error raised outside any test, which fails a real vitest run whose tests all pass', () => {
    // A real vitest run with the shared config, not a fabricated report: the JSON report alone
    // says "1 passed, 0 failed" here while vitest exits 1.
    const root = mkdtempSync(join(tmpdir(), 'ci-unhandled-'));
    dirs.push(root);
    writeFileSync(join(root, 'package.json'), JSON.stringify({ scripts: { test: 'vitest run' } }));
    const shared = JSON.stringify(join(REPO_ROOT, 'vitest.shared.ts'));
    writeFileSync(
      join(root, 'vitest.config.ts'),
      `import { sharedTestConfig } from ${shared};\nexport default { test: { ...sharedTestConfig, globals: true } };\n`,
    );
    mkdirSync(join(root, 'test'));
    writeFileSync(
      join(root, 'test/late.test.ts'),
      `it('passes', async () => {\n  void Promise.reject(new Error('nobody awaited this'));\n  await new Promise((r) => setTimeout(r, 50));\n});\n`,
    );
    const vitest = spawnSync(join(REPO_ROOT, 'node_modules/.bin/vitest'), ['run'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(vitest.status, vitest.stdout + vitest.stderr).toBe(1);
    const run = spawnSync('node', ['.ci/summarize-vitest.mjs', root], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    expect(run.stdout.trim().split('\n').at(-1)).toBe('1 passed, 1 failed');
    expect(run.stderr).toContain('FAILED outside any test: Error: nobody awaited this');
    expect(run.status).toBe(1);
  });
});

function writeReport(dir: string, report: object): void {
  mkdirSync(join(dir, 'reports'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ scripts: { test: 'vitest run' } }));
  writeFileSync(join(dir, 'reports/vitest.json'), JSON.stringify(report));
}
