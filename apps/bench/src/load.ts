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
}

export interface FixedRate {
  targetRate: number;
  achievedRate: number;
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number };
  errors: number;
  non2xx: number;
  requests: number;
}

/** wrk where the machine has it (a C load generator leaves the cores to the server), else autocannon. */
export function hasWrk(): boolean {
  return spawnSync('wrk', ['--version']).error === undefined;
}

const require = createRequire(import.meta.url);
const AUTOCANNON = require.resolve('autocannon/autocannon.js');

/** Closed-loop, keep-alive throughput: as many requests as the server answers. */
export async function measureThroughput(
  url: string,
  seconds: number,
  connections = 64,
): Promise<Throughput> {
  if (hasWrk()) {
    // Warm-up, not measured: JIT, caches and keep-alive connections settle first.
    await run('wrk', ['-t2', `-c${connections}`, '-d2s', url], { maxBuffer: 1 << 20 });
    const { stdout } = await run(
      'wrk',
      ['-t2', `-c${connections}`, `-d${seconds}s`, '--latency', url],
      {
        maxBuffer: 1 << 20,
      },
    );
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
  const result = await autocannon(['-c', String(connections), '-d', String(seconds), url]);
  return {
    tool: 'autocannon',
    requestsPerSecond: result.requests.average,
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
    errors: result.errors + result.non2xx,
    bytesPerSecond: result.throughput.average,
  };
}

/** Open-loop load at a fixed overall rate, with autocannon's latency percentiles. */
export async function measureFixedRate(
  url: string,
  rate: number,
  seconds: number,
  connections = 100,
): Promise<FixedRate> {
  await autocannon(['-c', String(connections), '-d', '3', '--overallRate', String(rate), url]);
  const result = await autocannon([
    '-c',
    String(connections),
    '-d',
    String(seconds),
    '--overallRate',
    String(rate),
    url,
  ]);
  return {
    targetRate: rate,
    achievedRate: result.requests.total / seconds,
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      p999: result.latency.p99_9,
      max: result.latency.max,
    },
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    requests: result.requests.total,
  };
}

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p90: number; p99: number; p99_9: number; max: number };
  throughput: { average: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}

/** autocannon in a process of its own, so that its CPU is not the orchestrator's. */
async function autocannon(args: string[]): Promise<AutocannonResult> {
  const { stdout } = await run(process.execPath, [AUTOCANNON, '--json', ...args], {
    maxBuffer: 16 << 20,
  });
  return JSON.parse(stdout) as AutocannonResult;
}

function wrkLatency(stdout: string, percentile: string): number {
  const match = new RegExp(`^\\s+${percentile.replace('%', '%')}\\s+(\\S+)`, 'm').exec(stdout);
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
