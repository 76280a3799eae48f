import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { nearestRank } from './percentile.js';

const run = promisify(execFile);

export interface FixedRate {
  targetRate: number;
  achievedRate: number;
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number };
  errors: number;
  non2xx: number;
  requests: number;
}

/**
 * Clients of a fixed-rate load unless a scenario says otherwise. Each is an h2load process of its
 * own on the load generator's core: 100 of them at 100 requests a second gave raw node:http a p99
 * of 10 ms (the core switching between them), 10 of them 0.3–1.3 ms.
 */
export const FIXED_RATE_CLIENTS = 10;
/** Not measured: connections, JIT and caches settle first. */
const WARM_UP_SECONDS = 3;

/** `h2load --version`'s first line (`h2load nghttp2/1.52.0`). */
export function fixedRateGeneratorName(): string {
  const probe = spawnSync('h2load', ['--version'], { encoding: 'utf8' });
  return probe.error === undefined ? (probe.stdout.split('\n')[0] ?? 'h2load') : 'h2load (missing)';
}

/** One client of a fixed-rate load: a connection on its own timer, with its own paths. */
export interface FixedRateClient {
  /** The paths it asks for, in order, from the start again when they run out; or one URL's path. */
  paths: readonly string[];
}

export interface FixedRateLoad {
  /** Scheme, host and port: `http://127.0.0.1:PORT`. */
  base: string;
  /** Requests per second over all clients. */
  rate: number;
  seconds: number;
  clients: readonly FixedRateClient[];
  /** The core the load generator runs on (taskset), if pinned. */
  core?: string | undefined;
}

/**
 * Open-loop load at a fixed rate, after a warm-up of the same load, with h2load (nghttp2's load
 * generator, C, from Debian): one h2load process per client, each one connection sending
 * `rate / clients` requests a second on its own timer, one request in flight; each request's
 * latency from h2load's per-request log.
 *
 * Why not autocannon's `--overallRate`: it gives each connection a budget per second, spent
 * closed-loop from the second's start, then idles until the next, so a "fixed rate" of 10,000 a
 * second arrived as a burst at every second's start; and it corrects for coordinated omission
 * with an expected interval of 1 ms whatever the rate, adding latencies no request had. Why one
 * process per client: h2load walks its URI list from the start in every client, so clients of one
 * process ask for the same paths at nearly the same moment. The figures hold what a client sees,
 * with the limit of any one-in-flight client: a request due while its connection waits for an
 * answer is sent after it, and its wait before sending is not counted (the max shows a stall
 * better than p99; the traffic mix reports the generator's own floor beside).
 */
export async function measureFixedRate(
  load: FixedRateLoad,
  warmUp: FixedRateLoad = load,
): Promise<FixedRate> {
  await runFixedRate({ ...warmUp, seconds: WARM_UP_SECONDS });
  return runFixedRate(load);
}

/** The same load on one URL from every client. */
export function oneUrlLoad(
  url: string,
  rate: number,
  seconds: number,
  core?: string,
  clients = FIXED_RATE_CLIENTS,
): FixedRateLoad {
  const { origin, pathname, search } = new URL(url);
  const paths = [`${pathname}${search}`];
  return {
    base: origin,
    rate,
    seconds,
    core,
    clients: Array.from({ length: clients }, () => ({ paths })),
  };
}

async function runFixedRate(load: FixedRateLoad): Promise<FixedRate> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-h2load-'));
  try {
    const perClient = load.rate / load.clients.length;
    const logs = load.clients.map((_, i) => join(dir, `client-${i}.log`));
    await Promise.all(
      load.clients.map((client, i) => {
        const uris = join(dir, `client-${i}.uris`);
        writeFileSync(uris, `${client.paths.map((p) => `${load.base}${p}`).join('\n')}\n`);
        const args = [
          '--h1',
          '-c1',
          `--rps=${perClient}`,
          `-D${load.seconds}`,
          `--log-file=${logs[i]}`,
          `-i${uris}`,
        ];
        const [command, ...rest] =
          load.core === undefined
            ? ['h2load', ...args]
            : ['taskset', '-c', load.core, 'h2load', ...args];
        return run(command!, rest, { maxBuffer: 16 << 20 });
      }),
    );
    return {
      targetRate: load.rate,
      ...fixedRateOfLogs(
        logs.map((file) => readFileSync(file, 'utf8')),
        load.seconds,
      ),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * h2load's per-request logs (tab-separated: start µs since the epoch, status, µs to the end of the
 * answer; status -1 for a request that failed) as the report keeps a fixed-rate run.
 */
export function fixedRateOfLogs(
  logs: readonly string[],
  seconds: number,
): Omit<FixedRate, 'targetRate'> {
  const latencies: number[] = [];
  let errors = 0;
  let non2xx = 0;
  for (const log of logs) {
    for (const line of log.split('\n')) {
      if (line === '') continue;
      const [, status, micros] = line.split('\t');
      const code = Number(status);
      if (code < 0) {
        errors++;
        continue;
      }
      if (code < 200 || code >= 400) non2xx++;
      latencies.push(Number(micros) / 1000);
    }
  }
  latencies.sort((a, b) => a - b);
  const at = (q: number) => nearestRank(latencies, q);
  return {
    achievedRate: (latencies.length + errors) / seconds,
    latencyMs: { p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: at(1) },
    errors,
    non2xx,
    requests: latencies.length + errors,
  };
}
