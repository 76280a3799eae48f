import type { BenchContext } from '../bench-context.js';
import type { Throughput } from '../load.js';
import {
  LOAD_CORE,
  measureInRounds,
  medianRun,
  type PairedRatio,
  pairedRatio,
  type RoundServer,
  SERVER_CORE,
  saveAnswer,
  startReference,
} from '../paired-rounds.js';
import { median } from '../percentile.js';

export type { PairedRatio } from '../paired-rounds.js';

export interface SearchServerResult extends Throughput {
  /** Every round's requests per second, in run order. */
  rounds: number[];
  /** The median over rounds of the server's CPU µs per request (its whole process tree). */
  medianCpuUsPerRequest: number;
}

export interface BaselineResult extends SearchServerResult {
  ref: string;
  commit: string;
  /** The baseline answered the same body, byte for byte (else the ratio compares two answers). */
  sameBody: boolean;
  /** The baseline's CPU per request over Tessera's, paired by round: below 1, Tessera costs more. */
  paired: PairedRatio;
}

export interface SearchResult {
  scenario: string;
  query: string;
  events: number;
  bodyBytes: number;
  /** The answer's head as sent, without Date and the connection's own headers. */
  headBytes: number;
  tessera: SearchServerResult;
  koa: SearchServerResult;
  /** The Koa floor sending Tessera's head as well as its body (see koa-floor.ts). */
  koaSameAnswer: SearchServerResult;
  raw: SearchServerResult;
  /** Tessera's req/s over the Koa floor's and raw node:http's, and the floors' CPU over its. */
  ofKoa: PairedRatio;
  ofKoaSameAnswer: PairedRatio;
  ofRaw: PairedRatio;
  /** The same query on the baseline commit's API, when one was built (BENCH_BASELINE). */
  baseline?: BaselineResult;
}

export interface SearchQuery {
  scenario: string;
  dataDir: string;
  query: string;
  connections: number;
  /** The baseline's own store holding the same seeded events, when the query has one. */
  baselineDataDir?: string;
}

type ServerName = 'tessera' | 'baseline' | 'koa' | 'koaSameAnswer' | 'raw';

/**
 * /search against the references, one process each on the same core: the Koa floor (a minimal
 * Koa + @koa/router app sending the same bytes), the same floor sending Tessera's headers too,
 * raw node:http, and the API of a baseline commit. Each round runs every server once, short and
 * back to back, in alternating order, and each ratio is the median of the rounds' own ratios: a
 * shared VM's speed drifts by tens of percent within minutes, and only servers measured side by
 * side see the same machine.
 */
export async function runSearchThroughput(
  ctx: BenchContext,
  queries: SearchQuery[],
  baselineApi?: { ref: string; commit: string; apiMain: string },
  rounds = 8,
): Promise<SearchResult[]> {
  const results: SearchResult[] = [];
  for (const q of queries) {
    ctx.log(`search: ${q.scenario}`);
    const pinned = ['taskset', '-c', SERVER_CORE];
    const { api, base } = await ctx.startApi(q.dataDir, { API_WORKERS: '1' }, { wrapper: pinned });
    const { body, head, bodyFile, headFile } = await saveAnswer(
      await fetch(`${base}/search${q.query}`),
      ctx.dir(`body-${results.length}`),
    );
    const servers: Partial<Record<ServerName, RoundServer>> = {
      tessera: { base, pid: api.child.pid!, stop: () => api.stop() },
      koa: await startReference('koa-floor.js', [bodyFile, '', '/search']),
      koaSameAnswer: await startReference('koa-floor.js', [bodyFile, '', '/search', headFile]),
      raw: await startReference('raw-server.js', [bodyFile, '']),
    };
    let baselineBody: Buffer | undefined;
    if (baselineApi !== undefined && q.baselineDataDir !== undefined) {
      const baseline = await ctx.startApi(
        q.baselineDataDir,
        { API_WORKERS: '1' },
        { wrapper: pinned, main: baselineApi.apiMain },
      );
      servers.baseline = {
        base: baseline.base,
        pid: baseline.api.child.pid!,
        stop: () => baseline.api.stop(),
      };
      const res = await fetch(`${servers.baseline.base}/search${q.query}`);
      baselineBody = Buffer.from(await res.arrayBuffer());
    }
    const names = Object.keys(servers) as ServerName[];
    const seconds = Math.max(2, Math.round(ctx.config.BENCH_SECONDS / rounds));
    let measured: Record<ServerName, Throughput[]>;
    try {
      measured = await measureInRounds(
        servers as Record<ServerName, RoundServer>,
        `/search${q.query}`,
        { rounds, seconds, connections: q.connections },
      );
    } finally {
      await Promise.all(names.map((n) => servers[n]!.stop()));
    }
    ctx.command(
      `taskset -c ${LOAD_CORE} wrk -t1 -c${q.connections} -d${seconds}s --latency 'http://127.0.0.1:PORT/search${q.query}'  # × ${rounds} rounds, each of ${names.join(', ')} in turn (order alternating), all at taskset -c ${SERVER_CORE}, Tessera with API_WORKERS=1`,
    );
    const summary = (name: ServerName): SearchServerResult => ({
      ...medianRun(measured[name]),
      rounds: measured[name].map((t) => t.requestsPerSecond),
      medianCpuUsPerRequest: median(measured[name].map((t) => t.cpuUsPerRequest ?? Number.NaN)),
    });
    const paired = (name: ServerName): PairedRatio => pairedRatio(measured.tessera, measured[name]);
    results.push({
      scenario: q.scenario,
      query: q.query,
      events: (JSON.parse(body.toString()) as { data: { events: unknown[] } }).data.events.length,
      bodyBytes: body.length,
      headBytes: head.reduce((n, [name, value]) => n + name.length + value.length + 4, 0),
      tessera: summary('tessera'),
      koa: summary('koa'),
      koaSameAnswer: summary('koaSameAnswer'),
      raw: summary('raw'),
      ofKoa: paired('koa'),
      ofKoaSameAnswer: paired('koaSameAnswer'),
      ofRaw: paired('raw'),
      ...(baselineApi === undefined || baselineBody === undefined
        ? {}
        : {
            baseline: {
              ...summary('baseline'),
              ref: baselineApi.ref,
              commit: baselineApi.commit,
              sameBody: baselineBody.equals(body),
              paired: paired('baseline'),
            },
          }),
    });
  }
  return results;
}
