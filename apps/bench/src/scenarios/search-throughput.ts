import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, type RunningProcess, startNode } from '@tessera/testkit';
import type { BenchContext } from '../bench-context.js';
import { measureThroughput, type Throughput } from '../load.js';
import { treeCpuSeconds } from '../process-cpu.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const SERVER_CORE = '1';
const LOAD_CORE = '0';

export interface SearchServerResult extends Throughput {
  /** Every round's requests per second, in run order. */
  rounds: number[];
  /** The median over rounds of the server's CPU µs per request (its whole process tree). */
  medianCpuUsPerRequest: number;
}

export interface SearchResult {
  scenario: string;
  query: string;
  events: number;
  bodyBytes: number;
  tessera: SearchServerResult;
  koa: SearchServerResult;
  raw: SearchServerResult;
  /** Tessera's median req/s over the Koa floor's, and over raw node:http's. */
  ofKoa: number;
  ofRaw: number;
  /** The Koa floor's CPU per request over Tessera's: 1 means Tessera costs what Koa costs. */
  cpuOfKoa: number;
}

export interface SearchQuery {
  scenario: string;
  dataDir: string;
  query: string;
  connections: number;
}

/**
 * /search against the two references, one process each on the same core, measured in
 * interleaved rounds (Tessera, Koa, raw, again) so that drift on a shared machine hits all
 * three alike: the Koa floor (a minimal Koa + @koa/router app sending the same bytes) and raw
 * node:http (the same bytes, no framework).
 */
export async function runSearchThroughput(
  ctx: BenchContext,
  queries: SearchQuery[],
  rounds = 5,
): Promise<SearchResult[]> {
  const results: SearchResult[] = [];
  for (const q of queries) {
    ctx.log(`search: ${q.scenario}`);
    const pinned = ['taskset', '-c', SERVER_CORE];
    const { api, base } = await ctx.startApi(q.dataDir, { API_WORKERS: '1' }, { wrapper: pinned });
    const body = Buffer.from(await (await fetch(`${base}/search${q.query}`)).arrayBuffer());
    const bodyFile = join(ctx.dir(`body-${results.length}`), 'body.json');
    writeFileSync(bodyFile, body);
    const koa = await startReference('koa-floor.js', bodyFile);
    const raw = await startReference('raw-server.js', bodyFile);
    const seconds = Math.max(2, Math.round(ctx.config.BENCH_SECONDS / rounds));
    const servers = { tessera: base, koa: koa.base, raw: raw.base };
    const pids = {
      tessera: api.child.pid!,
      koa: koa.process.child.pid!,
      raw: raw.process.child.pid!,
    };
    const measured: Record<keyof typeof servers, Throughput[]> = { tessera: [], koa: [], raw: [] };
    for (let round = 0; round < rounds; round++) {
      for (const [name, url] of Object.entries(servers) as Array<[keyof typeof servers, string]>) {
        measured[name].push(
          await measureThroughput(
            `${url}/search${q.query}`,
            seconds,
            q.connections,
            LOAD_CORE,
            () => treeCpuSeconds(pids[name]),
          ),
        );
      }
    }
    await Promise.all([api.stop(), koa.process.stop(), raw.process.stop()]);
    ctx.command(
      `taskset -c ${LOAD_CORE} wrk -t1 -c${q.connections} -d${seconds}s --latency 'http://127.0.0.1:PORT/search${q.query}'  # × ${rounds} rounds, each of Tessera (API_WORKERS=1), the Koa floor and raw node:http, all at taskset -c ${SERVER_CORE}`,
    );
    const summary = (name: keyof typeof servers): SearchServerResult => ({
      ...median(measured[name]),
      rounds: measured[name].map((t) => t.requestsPerSecond),
      medianCpuUsPerRequest: middle(measured[name].map((t) => t.cpuUsPerRequest ?? Number.NaN)),
    });
    const tessera = summary('tessera');
    const koaResult = summary('koa');
    const rawResult = summary('raw');
    results.push({
      scenario: q.scenario,
      query: q.query,
      events: (JSON.parse(body.toString()) as { data: { events: unknown[] } }).data.events.length,
      bodyBytes: body.length,
      tessera,
      koa: koaResult,
      raw: rawResult,
      ofKoa: tessera.requestsPerSecond / koaResult.requestsPerSecond,
      ofRaw: tessera.requestsPerSecond / rawResult.requestsPerSecond,
      cpuOfKoa: koaResult.medianCpuUsPerRequest / tessera.medianCpuUsPerRequest,
    });
  }
  return results;
}

async function startReference(
  script: string,
  bodyFile: string,
): Promise<{ process: RunningProcess; base: string }> {
  const port = await freePort();
  const server = startNode(join(HERE, '..', script), [bodyFile, String(port)], {
    wrapper: ['taskset', '-c', SERVER_CORE],
  });
  await server.waitForOutput(/listening/);
  return { process: server, base: `http://127.0.0.1:${port}` };
}

function middle(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

/** The round with the median throughput, whole (its latencies belong to it). */
function median(runs: Throughput[]): Throughput {
  const sorted = [...runs].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond);
  return sorted[Math.floor(sorted.length / 2)]!;
}
