import { execFile, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Throughput {
  tool: 'wrk' | 'autocannon';
  requestsPerSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
  errors: number;
  bytesPerSecond: number;
  /** The server's CPU time per answered request, in µs, when its CPU was read (see cpuSeconds). */
  cpuUsPerRequest?: number;
}

/** wrk where the machine has it (a C load generator leaves the cores to the server), else autocannon. */
export function hasWrk(): boolean {
  return spawnSync('wrk', ['--version']).error === undefined;
}

/** `wrk --version` prints its version and exits 1. */
export function loadGeneratorName(): string {
  return hasWrk()
    ? (spawnSync('wrk', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? 'wrk')
    : 'autocannon only';
}

const require = createRequire(import.meta.url);
const AUTOCANNON = require.resolve('autocannon/autocannon.js');

/** Runs a command, on one core when `core` is given (taskset). */
function runOn(core: string | undefined, command: string, args: string[]) {
  const options = { maxBuffer: 16 << 20 };
  return core === undefined
    ? run(command, args, options)
    : run('taskset', ['-c', core, command, ...args], options);
}

/**
 * Closed-loop, keep-alive throughput: as many requests as the server answers. With `core`, the
 * load generator runs on that core only, one thread, so that the server's core is its own.
 */
export async function measureThroughput(
  url: string,
  seconds: number,
  connections = 64,
  core?: string,
  /** The server's CPU seconds so far: read around the measured run, not the warm-up. */
  cpuSeconds?: () => number,
): Promise<Throughput> {
  const withCpu = (t: Throughput, requests: number, cpu: number): Throughput =>
    cpuSeconds === undefined || requests === 0
      ? t
      : { ...t, cpuUsPerRequest: ((cpuSeconds() - cpu) * 1e6) / requests };
  if (hasWrk()) {
    const threads = core === undefined ? '-t2' : '-t1';
    // Warm-up, not measured: JIT, caches and keep-alive connections settle first.
    await runOn(core, 'wrk', [threads, `-c${connections}`, '-d1s', url]);
    const cpu = cpuSeconds?.() ?? 0;
    const { stdout } = await runOn(core, 'wrk', [
      threads,
      `-c${connections}`,
      `-d${seconds}s`,
      '--latency',
      url,
    ]);
    const requests = Number(/(\d+) requests in /.exec(stdout)?.[1] ?? 0);
    return withCpu(parseWrk(stdout), requests, cpu);
  }
  const cpu = cpuSeconds?.() ?? 0;
  const result = await autocannon(['-c', String(connections), '-d', String(seconds), url], core);
  const throughput: Throughput = {
    tool: 'autocannon',
    requestsPerSecond: result.requests.average,
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
    errors: result.errors + result.non2xx,
    bytesPerSecond: result.throughput.average,
  };
  return withCpu(throughput, result.requests.total, cpu);
}

function parseWrk(stdout: string): Throughput {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0);
  const transfer = /Transfer\/sec:\s+([\d.]+)(\w+)/.exec(stdout);
  const unit = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[transfer?.[2] ?? 'B'] ?? 1;
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
    stdout,
  );
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  return {
    tool: 'wrk',
    requestsPerSecond: rps,
    latencyMs: {
      p50: wrkLatency(stdout, '50%'),
      p99: wrkLatency(stdout, '99%'),
      max: toMs(/Latency\s+\S+\s+\S+\s+(\S+)/.exec(stdout)?.[1] ?? '0ms'),
    },
    errors: (errors ? errors.slice(1).reduce((n, x) => n + Number(x), 0) : 0) + non2xx,
    bytesPerSecond: Number(transfer?.[1] ?? 0) * unit,
  };
}

/** The fields of autocannon's --json output the closed-loop fallback reads. */
interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; max: number };
  throughput: { average: number };
  errors: number;
  non2xx: number;
}

/** autocannon in a process of its own, so that its CPU is not the orchestrator's. */
async function autocannon(args: string[], core?: string): Promise<AutocannonResult> {
  const { stdout } = await runOn(core, process.execPath, [AUTOCANNON, '--json', ...args]);
  return JSON.parse(stdout) as AutocannonResult;
}

function wrkLatency(stdout: string, percentile: string): number {
  const match = new RegExp(`^\\s+${percentile}\\s+(\\S+)`, 'm').exec(stdout);
  return match ? toMs(match[1]!) : 0;
}

function toMs(text: string): number {
  const m = /([\d.]+)(us|ms|s|m)/.exec(text);
  if (!m) return 0;
  const value = Number(m[1]);
  return m[2] === 'us'
    ? value / 1000
    : m[2] === 'ms'
      ? value
      : m[2] === 's'
        ? value * 1000
        : value * 60_000;
}
