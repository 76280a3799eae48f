import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startNode } from '@tessera/testkit';
import { measureThroughput, type Throughput } from './load.js';
import { median } from './percentile.js';
import { treeCpuSeconds } from './process-cpu.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** Servers compared in rounds run here, one process each; the load generator on the other core. */
export const SERVER_CORE = '1';
export const LOAD_CORE = '0';

export interface RoundServer {
  base: string;
  pid: number;
  stop(): Promise<unknown>;
}

/** One server against the subject, from rounds run back to back (see measureInRounds). */
export interface PairedRatio {
  /** Median over rounds of the subject's req/s over this server's in the same round. */
  requestsPerSecond: number;
  /** Median over rounds of this server's CPU per request over the subject's: 1 means the same cost. */
  cpuPerRequest: number;
}

export interface RoundsLoad {
  rounds: number;
  seconds: number;
  connections: number;
}

/**
 * The same request against every server, in rounds: each round runs every server once, short and
 * back to back, in alternating order. A shared VM's speed drifts by tens of percent within
 * minutes, and only servers measured side by side see the same machine; the ratios are then
 * taken round by round (pairedRatio). CPU per request is each server's whole process tree.
 */
export async function measureInRounds<Name extends string>(
  servers: Record<Name, RoundServer>,
  path: string,
  load: RoundsLoad,
): Promise<Record<Name, Throughput[]>> {
  const names = Object.keys(servers) as Name[];
  const measured = Object.fromEntries(names.map((n) => [n, [] as Throughput[]])) as Record<
    Name,
    Throughput[]
  >;
  for (let round = 0; round < load.rounds; round++) {
    for (const name of round % 2 === 0 ? names : [...names].reverse()) {
      const server = servers[name];
      measured[name].push(
        await measureThroughput(
          `${server.base}${path}`,
          load.seconds,
          load.connections,
          LOAD_CORE,
          () => treeCpuSeconds(server.pid),
        ),
      );
    }
  }
  return measured;
}

/** Round by round: the subject's req/s over the other's, the other's CPU per request over its. */
export function pairedRatio(subject: Throughput[], other: Throughput[]): PairedRatio {
  return {
    requestsPerSecond: median(
      subject.map((t, i) => t.requestsPerSecond / other[i]!.requestsPerSecond),
    ),
    cpuPerRequest: median(
      subject.map((t, i) => (other[i]!.cpuUsPerRequest ?? Number.NaN) / (t.cpuUsPerRequest ?? 1)),
    ),
  };
}

/** A reference server from this app's dist (koa-floor.js, raw-server.js); the empty argument is where its port goes. */
export async function startReference(script: string, args: string[]): Promise<RoundServer> {
  const port = await freePort();
  const server = startNode(
    join(HERE, script),
    args.map((a) => (a === '' ? String(port) : a)),
    { wrapper: ['taskset', '-c', SERVER_CORE] },
  );
  await server.waitForOutput(/listening/);
  return { base: `http://127.0.0.1:${port}`, pid: server.child.pid!, stop: () => server.stop() };
}

/** Headers a server sends of its own accord, or per request: left out of the copied head. */
const OWN_HEADERS = new Set([
  'date',
  'connection',
  'keep-alive',
  'content-length',
  'content-type',
  'transfer-encoding',
  'x-request-id',
]);

export interface SavedAnswer {
  body: Buffer;
  /** The answer's own headers, as [name, value] pairs (see OWN_HEADERS for those left out). */
  head: Array<[string, string]>;
  bodyFile: string;
  headFile: string;
}

/** An answer of the subject's, written to `dir` as the files koa-floor.js sends again. */
export async function saveAnswer(answer: Response, dir: string): Promise<SavedAnswer> {
  const body = Buffer.from(await answer.arrayBuffer());
  const head = [...answer.headers].filter(([name]) => !OWN_HEADERS.has(name));
  const bodyFile = join(dir, 'body.json');
  const headFile = join(dir, 'head.json');
  writeFileSync(bodyFile, body);
  writeFileSync(headFile, JSON.stringify(head));
  return { body, head, bodyFile, headFile };
}

/**
 * The round with the median throughput (for an even count, the upper of the two middle ones),
 * whole: its latencies belong to it.
 */
export function medianRun(runs: Throughput[]): Throughput {
  const sorted = [...runs].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond);
  return sorted[Math.floor(sorted.length / 2)]!;
}
