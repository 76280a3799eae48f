import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, setPriority, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { basesForBytes } from '@tessera/simulator';
import {
  freePort,
  getJson,
  REPO_ROOT,
  type RunningProcess,
  startApp,
  startNode,
  waitUntil,
} from '@tessera/testkit';
import { latencyChart } from './chart.js';
import { type FixedRate, hasWrk, measureFixedRate, measureThroughput } from './load.js';
import { renderReport } from './report.js';
import type { IngestResult, IngestSummary, Results, SearchResult } from './results.js';
import { seedStore, weekWindow } from './seed-store.js';

/**
 * `make bench`: everything measured side by side in one run on this machine, load generator
 * included, then written to docs/benchmarks.md and docs/benchmarks.json.
 * BENCH_SECONDS (closed-loop runs), BENCH_FIXED_SECONDS (fixed-rate runs), BENCH_EVENTS (store
 * size) and BENCH_LARGE_MB (the large feed) shorten or lengthen it.
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const FIXED_SECONDS = Number(process.env.BENCH_FIXED_SECONDS ?? 30);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000);
const LARGE_MB = Number(process.env.BENCH_LARGE_MB ?? 1000);
const API_WORKERS = '2';
const RAW_SERVER = join(dirname(fileURLToPath(import.meta.url)), 'raw-server.js');
const work = mkdtempSync(join(tmpdir(), 'tessera-bench-'));
const commands: string[] = [];

function log(message: string): void {
  process.stdout.write(`[bench] ${message}\n`);
}

async function startApi(dataDir: string): Promise<{ api: RunningProcess; base: string }> {
  const port = await freePort();
  const api = startApp('api', {
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    API_WORKERS,
    LOG_LEVEL: 'warn',
  });
  const base = `http://127.0.0.1:${port}`;
  await waitUntil(() => getJson(`${base}/health`), { what: 'the API' });
  return { api, base };
}

async function startRaw(bodyFile: string): Promise<{ raw: RunningProcess; base: string }> {
  const port = await freePort();
  const raw = startNode(RAW_SERVER, [bodyFile, String(port), API_WORKERS]);
  const base = `http://127.0.0.1:${port}`;
  await waitUntil(async () => (await fetch(base)).ok, { what: 'the raw server' });
  return { raw, base };
}

async function searchScenario(
  scenario: string,
  dataDir: string,
  query: string,
  connections: number,
): Promise<SearchResult> {
  log(`search: ${scenario}`);
  const { api, base } = await startApi(dataDir);
  const body = Buffer.from(await (await fetch(`${base}/search${query}`)).arrayBuffer());
  const bodyFile = join(work, `body-${scenario.replace(/\W+/g, '-')}.json`);
  writeFileSync(bodyFile, body);
  const events = (JSON.parse(body.toString()) as { data: { events: unknown[] } }).data.events
    .length;
  const seconds = body.length > 1_000_000 ? Math.min(SECONDS, 10) : SECONDS;
  commands.push(
    `wrk -t2 -c${connections} -d${seconds}s --latency 'http://127.0.0.1:PORT/search${query}'  # API (${API_WORKERS} workers), then raw node:http`,
  );
  const apiResult = await measureThroughput(`${base}/search${query}`, seconds, connections);
  await api.stop();
  const { raw, base: rawBase } = await startRaw(bodyFile);
  const rawResult = await measureThroughput(`${rawBase}/search${query}`, seconds, connections);
  await raw.stop();
  return {
    scenario,
    query,
    events,
    bodyBytes: body.length,
    api: apiResult,
    raw: rawResult,
    ratio: apiResult.requestsPerSecond / rawResult.requestsPerSecond,
  };
}

function parseSummary(line: string): IngestSummary {
  const m =
    /^(\w+): ([\d.]+) MB, events (?:inserted=(\d+) updated=(\d+) moved=(\d+) unchanged=(\d+)|none), .* (\d+) ms, peak RSS (\d+) MB/.exec(
      line,
    );
  if (!m) throw new Error(`unreadable ingest summary: ${line}`);
  const events = m[3] === undefined ? 0 : Number(m[3]) + Number(m[4]) + Number(m[5]) + Number(m[6]);
  return { outcome: m[1]!, mb: Number(m[2]), events, ms: Number(m[7]), rss: Number(m[8]) };
}

async function ingestOnce(env: Record<string, string>): Promise<IngestSummary> {
  const run = startApp('ingestor', { LOG_LEVEL: 'silent', ...env }, ['--once']);
  const code = await run.exited;
  const line = run.output().trim().split('\n').pop() ?? '';
  if (code !== 0) throw new Error(`ingest failed: ${line}`);
  return parseSummary(line);
}

async function main(): Promise<void> {
  const started = new Date();
  log(
    `work dir ${work}; load generator: ${hasWrk() ? 'wrk' : 'autocannon'} (closed loop), autocannon (fixed rate)`,
  );

  // 1. /search against the raw ceiling.
  const fixturesDir = join(work, 'fixtures');
  const simPort = await freePort();
  const sim = startApp('provider-sim', {
    SIM_PORT: String(simPort),
    SIM_SOURCE: '{"kind":"fixtures","vocabulary":"plan"}',
  });
  // The simulator stands for a remote partner: its CPU should not be taken from what is measured.
  if (sim.child.pid !== undefined) setPriority(sim.child.pid, 15);
  const feedUrl = `http://127.0.0.1:${simPort}/api/events`;
  await waitUntil(() => getJson(`http://127.0.0.1:${simPort}/control/state`), {
    what: 'the simulator',
  });
  for (let i = 0; i < 3; i++) await ingestOnce({ DATA_DIR: fixturesDir, PROVIDER_URL: feedUrl });
  const bigDir = join(work, 'events');
  log(`seeding ${EVENTS} events`);
  await seedStore(bigDir, EVENTS);
  const week = weekWindow(EVENTS);
  const weekQuery = `?starts_at=${week.startsAt}&ends_at=${week.endsAt}`;
  const search = [
    await searchScenario(
      '(a) fixture data, seed window',
      fixturesDir,
      '?starts_at=2021-02-01T00:00:00Z&ends_at=2022-07-03T00:00:00Z',
      64,
    ),
    await searchScenario(`(b) ${EVENTS} events, one-week window`, bigDir, weekQuery, 64),
    await searchScenario(`(c) ${EVENTS} events, no parameters`, bigDir, '', 4),
  ];

  // 2. Fixed rates, then the same while the ingestor ingests a ~150 MB feed in a loop.
  const fixedRate: Array<FixedRate & { during: string }> = [];
  const { api, base } = await startApi(bigDir);
  const url = `${base}/search${weekQuery}`;
  commands.push(
    `autocannon -c 100 -d ${FIXED_SECONDS} --overallRate RATE 'http://127.0.0.1:PORT/search${weekQuery}'`,
  );
  for (const rate of [5_000, 10_000]) {
    log(`fixed rate ${rate}/s`);
    fixedRate.push({
      ...(await measureFixedRate(url, rate, FIXED_SECONDS)),
      during: 'idle ingestor',
    });
  }
  const bases150 = basesForBytes(150e6, { zonesPerEvent: 100 });
  const loopSource = {
    kind: 'generated',
    vocabulary: 'plan',
    bases: bases150,
    eventsPerBase: 3,
    zonesPerEvent: 100,
    seed: 1,
    evolve: true,
  };
  await fetch(`http://127.0.0.1:${simPort}/control/source`, {
    method: 'PUT',
    body: JSON.stringify(loopSource),
  });
  const looping = startApp('ingestor', {
    DATA_DIR: bigDir,
    PROVIDER_URL: feedUrl,
    POLL_INTERVAL_MS: '1',
    LOG_LEVEL: 'info',
  });
  await waitUntil(() => looping.logs().some((l) => l.outcome !== undefined), {
    what: 'a first loop ingest',
    timeoutMs: 120_000,
  });
  for (const rate of [5_000, 10_000]) {
    log(`fixed rate ${rate}/s while ingesting`);
    const before = looping.logs().filter((l) => l.outcome === 'applied').length;
    const result = await measureFixedRate(url, rate, FIXED_SECONDS);
    const ingests = looping.logs().filter((l) => l.outcome === 'applied').length - before;
    fixedRate.push({
      ...result,
      during: `ingesting 150 MB feeds (${ingests} applied during the run)`,
    });
  }
  await looping.stop();
  await api.stop();

  // 3. Ingestion of ~100 MB and ~1 GB feeds with 1 and 2 parse threads, and unchanged polls.
  const ingestion: IngestResult[] = [];
  for (const [label, mb] of [
    ['~100 MB', 100],
    [`~${LARGE_MB >= 1000 ? `${LARGE_MB / 1000} GB` : `${LARGE_MB} MB`}`, LARGE_MB],
  ] as const) {
    const source = {
      kind: 'generated',
      vocabulary: 'plan',
      bases: basesForBytes(mb * 1e6, { zonesPerEvent: 100 }),
      eventsPerBase: 3,
      zonesPerEvent: 100,
      seed: 7,
    };
    await fetch(`http://127.0.0.1:${simPort}/control/source`, {
      method: 'PUT',
      body: JSON.stringify(source),
    });
    for (const threads of [1, 2]) {
      log(`ingest ${label} with ${threads} thread(s)`);
      const dir = join(work, `ingest-${mb}-${threads}`);
      const r = await ingestOnce({
        DATA_DIR: dir,
        PROVIDER_URL: feedUrl,
        PARSE_THREADS: String(threads),
      });
      ingestion.push({
        feed: label,
        threads,
        bytes: r.mb * 1024 * 1024,
        events: r.events,
        ms: r.ms,
        mbPerSecond: r.mb / (r.ms / 1000),
        eventsPerSecond: r.events / (r.ms / 1000),
        peakRssMb: r.rss,
        outcome: r.outcome,
      });
      rmSync(dir, { recursive: true, force: true });
    }
  }
  commands.push(
    'PARSE_THREADS=N DATA_DIR=fresh PROVIDER_URL=simulator node apps/ingestor/dist/main.js --once',
  );

  // The cost of a poll whose feed did not change: answered 304, or the same bytes again.
  const unchangedDir = join(work, 'unchanged');
  const source100 = {
    kind: 'generated',
    vocabulary: 'plan',
    bases: basesForBytes(100e6, { zonesPerEvent: 100 }),
    eventsPerBase: 3,
    zonesPerEvent: 100,
    seed: 7,
  };
  await fetch(`http://127.0.0.1:${simPort}/control/source`, {
    method: 'PUT',
    body: JSON.stringify(source100),
  });
  await ingestOnce({ DATA_DIR: unchangedDir, PROVIDER_URL: feedUrl });
  const notModified = await ingestOnce({ DATA_DIR: unchangedDir, PROVIDER_URL: feedUrl });
  const plainPort = await freePort();
  const plainSim = startApp('provider-sim', {
    SIM_PORT: String(plainPort),
    SIM_CONDITIONAL: 'false',
    SIM_SOURCE: JSON.stringify(source100),
  });
  await waitUntil(() => getJson(`http://127.0.0.1:${plainPort}/control/state`), {
    what: 'the plain simulator',
  });
  const sameBytes = await ingestOnce({
    DATA_DIR: unchangedDir,
    PROVIDER_URL: `http://127.0.0.1:${plainPort}/api/events`,
  });
  await plainSim.stop();
  await sim.stop();

  const results: Results = {
    startedAt: started.toISOString(),
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      memoryGb: Math.round(totalmem() / 1024 ** 3),
      freeMemoryGb: Math.round(freemem() / 1024 ** 3),
      kernel: execFileSync('uname', ['-sr']).toString().trim(),
    },
    node: process.version,
    packages: packageVersions(),
    // `wrk --version` prints its version and exits 1.
    loadGenerator: hasWrk()
      ? (spawnSync('wrk', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? 'wrk')
      : 'autocannon only',
    settings: {
      seconds: SECONDS,
      fixedSeconds: FIXED_SECONDS,
      events: EVENTS,
      apiWorkers: Number(API_WORKERS),
    },
    commands,
    search,
    fixedRate,
    ingestion,
    unchanged: { notModified, sameBytes },
  };
  const docs = join(REPO_ROOT, 'docs');
  mkdirSync(docs, { recursive: true });
  writeFileSync(join(docs, 'benchmarks.json'), `${JSON.stringify(results, null, 2)}\n`);
  const points = fixedRate.flatMap((r) =>
    (['p50', 'p90', 'p99', 'p999'] as const).map((p) => ({
      run: `${r.targetRate / 1000}k/s${r.during.startsWith('ingesting') ? ' + ingest' : ''}`,
      percentile: p === 'p999' ? 'p99.9' : p,
      ms: r.latencyMs[p],
    })),
  );
  writeFileSync(join(docs, 'benchmarks-latency.svg'), await latencyChart(points));
  const notes = readFileSync(join(docs, 'benchmarks-notes.md'), 'utf8');
  writeFileSync(join(docs, 'benchmarks.md'), renderReport(results, notes));
  rmSync(work, { recursive: true, force: true });
  log('wrote docs/benchmarks.md, docs/benchmarks.json and docs/benchmarks-latency.svg');
}

function packageVersions(): Record<string, string> {
  const versions: Record<string, string> = {};
  const lock = readFileSync(join(REPO_ROOT, 'pnpm-lock.yaml'), 'utf8');
  for (const name of [
    'koa',
    '@koa/router',
    'lmdb',
    'sax',
    'piscina',
    'undici',
    'zod',
    'prom-client',
    'autocannon',
    'typescript',
    'vitest',
  ]) {
    const m = new RegExp(`^  '?${name.replace('/', '\\/')}@([\\d.]+)'?:`, 'm').exec(lock);
    versions[name] = m?.[1] ?? 'unknown';
  }
  return versions;
}

main().catch((error: unknown) => {
  process.stderr.write(`[bench] failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  rmSync(work, { recursive: true, force: true });
  process.exit(1);
});
