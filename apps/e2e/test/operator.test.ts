import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AppName,
  freePort,
  REPO_ROOT,
  type RunningProcess,
  startApp,
  startProcess,
} from '@tessera/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

/**
 * What an operator meets first, with the built apps as child processes: the command line, boot
 * checks with one line and exit 2, CLI output on stdout and logs on stderr, make's exit status.
 */
const APPS: AppName[] = ['api', 'ingestor', 'provider-sim'];
const running: RunningProcess[] = [];
const dirs: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-operator-'));
  dirs.push(dir);
  return dir;
};
afterEach(async () => {
  for (const p of running.splice(0)) await p.stop();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A partner that counts its requests: `--help` must not reach it. */
let partner: Server;
let partnerUrl: string;
let partnerRequests = 0;
beforeAll(async () => {
  partner = createServer((_, res) => {
    partnerRequests++;
    res.writeHead(503).end();
  });
  await new Promise<void>((resolve) => partner.listen(0, '127.0.0.1', resolve));
  const address = partner.address() as { port: number };
  partnerUrl = `http://127.0.0.1:${address.port}/api/events`;
});
afterAll(() => new Promise<void>((resolve) => partner.close(() => resolve())));

function run(app: AppName, args: string[], env: Record<string, string> = {}, cwd?: string) {
  const child = startApp(app, { PROVIDER_URL: partnerUrl, ...env }, args, { cwd });
  running.push(child);
  return child;
}

describe('the command line of every app', () => {
  it.each(APPS)(
    '%s --help prints usage with its settings and defaults, touching nothing',
    async (app) => {
      const cwd = tempDir();
      for (const flag of ['--help', '-h']) {
        const child = run(app, [flag], {}, cwd);
        expect(await child.exited).toBe(0);
        const out = child.stdout();
        expect(out).toMatch(new RegExp(`^tessera-${app} \\d+\\.\\d+\\.\\d+: `));
        expect(out).toContain('usage: ');
        expect(out).toContain('--version');
        expect(out).toMatch(/LOG_LEVEL +default info/);
        expect(child.stderr()).toBe('');
      }
      expect(readdirSync(cwd)).toEqual([]); // no ./data
      expect(partnerRequests).toBe(0);
    },
  );

  it('the ingestor --help lists backup and every setting of its schema, with defaults', async () => {
    const child = run('ingestor', ['--help']);
    expect(await child.exited).toBe(0);
    const out = child.stdout();
    expect(out).toMatch(/backup <dir> +copy the store/);
    expect(out).toMatch(/--once +poll once/);
    expect(out).toMatch(/DATA_DIR +default \.\/data/);
    expect(out).toMatch(/POLL_INTERVAL_MS +default 30000/);
    expect(out).toMatch(/NATS_URL +\(unset\)/);
  });

  it.each(APPS)('%s --version prints its version and exits 0', async (app) => {
    const child = run(app, ['--version']);
    expect(await child.exited).toBe(0);
    expect(child.stdout()).toMatch(new RegExp(`^tessera-${app} \\d+\\.\\d+\\.\\d+\\n$`));
  });

  it.each(APPS)(
    '%s refuses an unknown flag or command with the usage line, exit 2',
    async (app) => {
      const cwd = tempDir();
      for (const args of [['--bogus'], ['bogus'], ['--once=yes']]) {
        const child = run(app, args, {}, cwd);
        expect(await child.exited, args.join(' ')).toBe(2);
        const lines = child.stderr().trim().split('\n');
        expect(lines).toHaveLength(2);
        expect(lines[1]).toMatch(new RegExp(`^usage: tessera-${app}`));
        expect(child.stdout()).toBe('');
      }
      expect(readdirSync(cwd)).toEqual([]);
    },
  );
});

describe('boot-time checks: one line naming the setting, exit 2', () => {
  const oneLine = async (child: RunningProcess, pattern: RegExp) => {
    expect(await child.exited).toBe(2);
    const lines = child.output().trim().split('\n');
    expect(lines, child.output()).toHaveLength(1);
    expect(lines[0]).toMatch(pattern);
  };

  it('a listen error, for the API (one worker or several) and the simulator', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const dataDir = tempDir();
      const inUse = new RegExp(`^cannot listen on 127\\.0\\.0\\.1:${port}: address in use$`);
      for (const workers of ['1', '2']) {
        await oneLine(
          run('api', [], {
            PORT: String(port),
            HOST: '127.0.0.1',
            API_WORKERS: workers,
            DATA_DIR: dataDir,
          }),
          inUse,
        );
      }
      await oneLine(run('provider-sim', [], { SIM_PORT: String(port) }), inUse);
    } finally {
      busy.close();
    }
  });

  it('a DATA_DIR that is a regular file stops the API and the ingestor', async () => {
    const file = join(tempDir(), 'not-a-dir');
    writeFileSync(file, 'x');
    const pattern = new RegExp(`^invalid setting DATA_DIR: ${file} exists and is not a directory$`);
    await oneLine(run('api', [], { DATA_DIR: file, API_WORKERS: '1', PORT: '0' }), pattern);
    await oneLine(run('ingestor', [], { DATA_DIR: file }), pattern);
    await oneLine(run('ingestor', ['--once'], { DATA_DIR: file }), pattern);
  });

  it('NATS_URL must be nats:// or tls:// URLs; PROVIDER_URL http or https, and each says so', async () => {
    const dataDir = tempDir();
    await oneLine(
      run('ingestor', [], { DATA_DIR: dataDir, NATS_URL: 'garbage' }),
      /^invalid setting NATS_URL: expected comma-separated nats:\/\/ or tls:\/\/ URLs/,
    );
    await oneLine(
      run('ingestor', [], { DATA_DIR: dataDir, PROVIDER_URL: 'ftp://partner.example/feed' }),
      /^invalid setting PROVIDER_URL: must be an http:\/\/ or https:\/\/ URL/,
    );
  });
});

describe('make run', () => {
  it('exits with the status of a process that fails, naming it, and stops the others', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const make = startProcess('make', ['--no-print-directory', '-o', 'build', 'run'], {
        cwd: REPO_ROOT,
        group: true,
        env: {
          DATA_DIR: tempDir(),
          PORT: String(port),
          HOST: '127.0.0.1',
          API_WORKERS: '1',
          PROVIDER_URL: partnerUrl,
          LOG_LEVEL: 'silent',
        },
      });
      running.push(make);
      expect(await make.exited).toBe(2);
      expect(make.stderr()).toContain(`cannot listen on 127.0.0.1:${port}: address in use`);
      expect(make.stderr()).toContain('together: api exited with status 2; stopping the others');
    } finally {
      busy.close();
    }
  });
});

describe('CLI output', () => {
  let simPort: number;
  beforeAll(async () => {
    simPort = await freePort();
    const sim = startApp('provider-sim', { SIM_PORT: String(simPort) });
    await sim.waitForOutput(/listening/);
    cliSim = sim;
  });
  let cliSim: RunningProcess;
  afterAll(async () => {
    await cliSim.stop();
  });
  const feed = () => `http://127.0.0.1:${simPort}/api/events`;

  it('--once writes its summary alone on stdout and its logs on stderr, in MiB', async () => {
    const child = run('ingestor', ['--once'], { DATA_DIR: tempDir(), PROVIDER_URL: feed() });
    expect(await child.exited).toBe(0);
    expect(child.stdout()).toMatch(/^applied: [\d.]+ MiB, .* peak RSS \d+ MiB\n$/);
    expect(child.stderr()).toContain('"msg":"ingestor starting"');
  });

  it('--once --json is one JSON document on stdout, whatever the log level', async () => {
    const child = run('ingestor', ['--once', '--json'], {
      DATA_DIR: tempDir(),
      PROVIDER_URL: feed(),
      LOG_LEVEL: 'debug',
    });
    expect(await child.exited).toBe(0);
    expect(JSON.parse(child.stdout())).toMatchObject({ outcome: 'applied' });
  });

  it('on a terminal, the progress line is erased before every log line, never appended to', async () => {
    // A feed that drips for about two seconds, so that the progress line is drawn a few times.
    const port = await freePort();
    const sim = startApp('provider-sim', {
      SIM_PORT: String(port),
      SIM_GZIP: 'false',
      SIM_PLAN: '{"steps":[{"kind":"drip","bytesPerTick":200,"intervalMs":100}]}',
    });
    running.push(sim);
    await sim.waitForOutput(/listening/);
    // script(1) gives the ingestor a pseudo-terminal; its transcript is what a person would see.
    const script = join(REPO_ROOT, 'apps', 'ingestor', 'dist', 'main.js');
    const child = startProcess('script', ['-qec', `node ${script} --once`, '/dev/null'], {
      env: {
        DATA_DIR: tempDir(),
        PROVIDER_URL: `http://127.0.0.1:${port}/api/events`,
        LOG_LEVEL: 'info',
        INGEST_NICE: '0',
      },
    });
    running.push(child);
    expect(await child.exited).toBe(0);
    expect(child.output()).toMatch(/[\d.]+ MiB {2}[\d.]+ MiB\/s {2}\d+ events/); // it was drawn
    const screen = child.output().split(/\r?\n/);
    for (const line of screen.filter((l) => l.includes('{"level"'))) {
      // What is left of the line once the terminal has applied the erase: the log line alone.
      const shown = line.split('\r\u001b[K').at(-1) ?? '';
      expect(shown.startsWith('{"level"'), JSON.stringify(line)).toBe(true);
    }
    expect(screen.some((l) => /^applied: /.test(l.split('\r\u001b[K').at(-1) ?? ''))).toBe(true);
  });
});
