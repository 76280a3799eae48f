import { FIXED_RATE_CLIENTS } from './fixed-rate-load.js';
import type { Throughput } from './load.js';
import type { Results } from './results.js';
import { type RuntimeComparison, renderRuntimes } from './runtimes.js';
import { judge } from './targets.js';

const n = (x: number, digits = 0) =>
  x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ms = (x: number) => n(x, x < 10 ? 2 : 1);

/** docs/benchmarks.md: the measured tables, then the hand-kept notes (findings and profiles). */
export function renderReport(r: Results, notes: string, runtimes?: RuntimeComparison): string {
  return [
    ...header(r),
    ...targets(r),
    ...search(r),
    ...costCurve(r),
    ...fixedRate(r),
    ...hostile(r),
    ...trafficMix(r),
    ...pages(r),
    ...ingestion(r),
    ...realServer(r),
    ...feeds(r),
    ...digestCost(r),
    ...changeFeed(r),
    ...startup(r),
    ...cluster(r),
    ...clusterFeeds(r),
    ...(runtimes === undefined ? [] : renderRuntimes(runtimes)),
    notes.trim(),
    '',
  ].join('\n');
}

function header(r: Results): string[] {
  return [
    '# Benchmarks',
    '',
    `Measured by \`make bench\` on ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC, everything in one run on one machine, the load`,
    'generator included. Figures from one run: compare rows of the same run, not runs of different days.',
    `Scenarios run: ${r.ran.join(', ')}. Raw data: [benchmarks.json](benchmarks.json).`,
    '',
    '## Machine and versions',
    '',
    `- CPU: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGb} GiB; ${r.machine.kernel}`,
    `- Node ${r.node}; ${Object.entries(r.packages)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `- Load: ${r.loadGenerator} for closed-loop throughput, ${r.fixedRateGenerator ?? 'autocannon'} for fixed rates`,
    '',
    '## Commands',
    '',
    '```sh',
    'make bench   # BENCH_SECONDS, BENCH_FIXED_SECONDS, BENCH_EVENTS, BENCH_LARGE_MB, BENCH_ONLY, BENCH_BASELINE adjust it',
    ...r.commands,
    '```',
    '',
  ];
}

function targets(r: Results): string[] {
  const verdicts = judge(r);
  if (verdicts.length === 0) return [];
  return [
    '## Targets',
    '',
    `${verdicts.filter((v) => v.met).length} of ${verdicts.length} met in this run. A missed target is explained under "What profiling found" below.`,
    '',
    '| target | measured | |',
    '|---|---:|---|',
    ...verdicts.map((v) => `| ${v.target} | ${v.measured} | ${v.met ? 'met' : '**missed**'} |`),
    '',
  ];
}

function search(r: Results): string[] {
  if (r.search === undefined) return [];
  // Results written before the paired rounds (re-rendered by bench-runtimes) lack their fields.
  if (r.search.some((s) => s.koaSameAnswer === undefined)) {
    return ['## GET /search per process', '', 'Not in this run: run `make bench` again.', ''];
  }
  const baselines = r.search.filter((s) => s.baseline !== undefined);
  return [
    '## GET /search per process: Tessera, the Koa floors, raw node:http and the baseline commit',
    '',
    'One process each on one core, the load generator on the other. Each round runs every server',
    "once, back to back, in alternating order; each ratio is the median of the rounds' own ratios,",
    "since a shared VM's speed drifts by tens of percent within minutes and only servers measured",
    'side by side see the same machine. The Koa floor is a minimal Koa + @koa/router app sending',
    'the same body: what the framework costs before any work of ours. "Koa, same answer" sends',
    "Tessera's headers too (security headers, ETag, Changes-Token, a request id): what Koa costs",
    "to send exactly this answer, so that the answer's own head is told apart from our work.",
    '',
    '| scenario | events | body | head | Tessera req/s | Koa req/s | Koa, same answer req/s | raw req/s | Tessera p50 / p99 ms | **of Koa** | of Koa, same answer | of raw |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...r.search.map(
      (s) =>
        `| ${s.scenario} | ${n(s.events)} | ${n(s.bodyBytes / 1024, 1)} KiB | ${n(s.headBytes)} B | ${n(s.tessera.requestsPerSecond)} | ${n(s.koa.requestsPerSecond)} | ${n(s.koaSameAnswer.requestsPerSecond)} | ${n(s.raw.requestsPerSecond)} | ${ms(s.tessera.latencyMs.p50)} / ${ms(s.tessera.latencyMs.p99)} | **${n(s.ofKoa.requestsPerSecond, 2)}** | ${n(s.ofKoaSameAnswer.requestsPerSecond, 2)} | ${n(s.ofRaw.requestsPerSecond, 2)} |`,
    ),
    '',
    'CPU time per request (user + system, read from /proc around each run; the median run), and',
    "each reference's CPU per request over Tessera's, paired by round (1: the same cost).",
    '',
    '| scenario | Tessera µs | Koa µs | Koa, same answer µs | raw µs | **Koa / Tessera** | Koa, same answer / Tessera |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...r.search.map(
      (s) =>
        `| ${s.scenario} | ${n(s.tessera.medianCpuUsPerRequest, 1)} | ${n(s.koa.medianCpuUsPerRequest, 1)} | ${n(s.koaSameAnswer.medianCpuUsPerRequest, 1)} | ${n(s.raw.medianCpuUsPerRequest, 1)} | **${n(s.ofKoa.cpuPerRequest, 2)}** | ${n(s.ofKoaSameAnswer.cpuPerRequest, 2)} |`,
    ),
    '',
    ...(baselines.length === 0
      ? ['No baseline commit was measured (BENCH_BASELINE=none).', '']
      : [
          `Against the baseline commit ${baselines[0]!.baseline!.ref} (\`${baselines[0]!.baseline!.commit.slice(0, 12)}\`), built beside this tree and serving its own store of the same seeded events (the fixture scenario is ingested by this tree only):`,
          '',
          '| scenario | same body | baseline µs | Tessera µs | **Tessera CPU / baseline** | Tessera req/s / baseline |',
          '|---|---|---:|---:|---:|---:|',
          ...baselines.map((s) => {
            const b = s.baseline!;
            return `| ${s.scenario} | ${b.sameBody ? 'yes' : '**no**'} | ${n(b.medianCpuUsPerRequest, 1)} | ${n(s.tessera.medianCpuUsPerRequest, 1)} | **${n(1 / b.paired.cpuPerRequest, 3)}** | ${n(b.paired.requestsPerSecond, 3)} |`;
          }),
          '',
        ]),
    'Every round (req/s, in run order):',
    '',
    ...r.search.map(
      (s) =>
        `- ${s.scenario}: Tessera ${s.tessera.rounds.map((x) => n(x)).join(' / ')}; Koa ${s.koa.rounds.map((x) => n(x)).join(' / ')}; Koa, same answer ${s.koaSameAnswer.rounds.map((x) => n(x)).join(' / ')}; raw ${s.raw.rounds.map((x) => n(x)).join(' / ')}${s.baseline === undefined ? '' : `; baseline ${s.baseline.rounds.map((x) => n(x)).join(' / ')}`}`,
    ),
    '',
  ];
}

function costCurve(r: Results): string[] {
  if (r.costCurve === undefined) return [];
  const c = r.costCurve;
  const row = (p: (typeof c.byResultSize)[number]) =>
    `| ${n(p.storeEvents)} | ${n(p.events)} | ${n(p.bodyBytes / 1024, 1)} KiB | ${n(p.cached.requestsPerSecond)} | ${ms(p.cached.latencyMs.p99)} | ${n(p.uncached.requestsPerSecond)} | ${ms(p.uncached.latencyMs.p99)} | ${p.uncachedShare === undefined ? '' : n(p.uncachedShare, 2)} | ${p.cached.errors + p.uncached.errors} |`;
  const head = [
    '| store events | answer events | body | cached req/s | cached p99 ms | uncached req/s | uncached p99 ms | uncached / cached | errors |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  return [
    '## Cost curves: /search against the size of the answer and of the store',
    '',
    `One API process on one core, ${c.connections} connections from the other core, ${c.seconds} s per run.`,
    'Cached: the same window again and again, as clients do (the response cache answers). Uncached:',
    'the cache off and admission control opened wide, so every request is a fresh LMDB range scan',
    'joining stored bytes. Each point runs both servers side by side in three rounds, in alternating',
    "order; req/s and p99 are the median run's, uncached / cached the median of the rounds' own ratios.",
    '',
    '![cost curves](benchmarks-cost.svg)',
    '',
    '### Against the size of the answer (one store)',
    '',
    ...head,
    ...c.byResultSize.map(row),
    '',
    '### Against the size of the store (the same 100-event window)',
    '',
    ...head,
    ...c.byStoreSize.map(row),
    '',
  ];
}

function fixedRate(r: Results): string[] {
  if (r.fixedRate === undefined) return [];
  return [
    `## Fixed request rates, ${r.settings.fixedSeconds} s each (${n(r.settings.events)} events, one-week window)`,
    '',
    'Pinned: the load generator and the simulator on core 0, the API (one process) and the ingestor',
    'on core 1. Unpinned: everything on both cores, the API with two workers.',
    '',
    ...fixedRateLoadLines(r),
    '![latency under load](benchmarks-latency.svg)',
    '',
    '| rate | while | pinned | achieved req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors | non-2xx |',
    '|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...r.fixedRate.map(
      (f) =>
        `| ${n(f.targetRate)} | ${f.during === 'ingesting' ? `ingesting 150 MB feeds (${f.feedsApplied} applied)` : f.during} | ${f.pinned ? 'yes' : 'no'} | ${n(f.achievedRate)} | ${ms(f.latencyMs.p50)} | ${ms(f.latencyMs.p90)} | **${ms(f.latencyMs.p99)}** | ${ms(f.latencyMs.p999)} | ${ms(f.latencyMs.max)} | ${f.errors} | ${f.non2xx} |`,
    ),
    '',
  ];
}

/** How the fixed rates are sent (reports before h2load used autocannon: nothing to say). */
function fixedRateLoadLines(r: Results): string[] {
  if (r.fixedRateGenerator === undefined) return [];
  return [
    `The load (${r.fixedRateGenerator}): ${FIXED_RATE_CLIENTS} clients, each an h2load process with one connection sending its share of the rate on its own timer, whatever the answers take (open loop). A request that falls due while its connection still waits for an answer goes out after it, and that wait is not counted: a stall of the server shows in the max column more than in p99.`,
    '',
  ];
}

function trafficMix(r: Results): string[] {
  if (r.trafficMix === undefined) return [];
  const m = r.trafficMix;
  const share = (k: keyof typeof m.shares) => `${Math.round(100 * m.shares[k])} %`;
  return [
    `## A realistic traffic mix at fixed rates, ${r.settings.fixedSeconds} s each`,
    '',
    `${share('day')} day windows drawn by Zipf's law over ${n(m.days)} days, ${share('fromNow')} "from now" week windows anchored to the current second, ${share('event')} \`/events/{id}\` over every seeded event, ${share('page')} first pages (100) of month windows (seed ${m.seed}). Meanwhile the ingestor polls a partner whose feed changes every ${n(m.pollMs / 1000)} s into the same store, so every cached answer goes stale as in production. API (one process) and ingestor on core 1, the load generator and the partner on core 0.`,
    '',
    'The generator floor is the same load (the same generator and paths) against raw node:http answering every path with a small body on the same core: the latency the load generator adds by itself at that rate.',
    '',
    '| rate | achieved req/s | feed changes applied | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors | non-2xx | generator floor p50 / p99 / max ms |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...m.rates.map(
      (f) =>
        `| ${n(f.targetRate)} | ${n(f.achievedRate)} | ${f.feedsApplied} | ${ms(f.latencyMs.p50)} | ${ms(f.latencyMs.p90)} | **${ms(f.latencyMs.p99)}** | ${ms(f.latencyMs.p999)} | ${ms(f.latencyMs.max)} | ${f.errors} | ${f.non2xx} | ${ms(f.generatorFloor.p50)} / ${ms(f.generatorFloor.p99)} / ${ms(f.generatorFloor.max)} |`,
    ),
    '',
  ];
}

function hostile(r: Results): string[] {
  if (r.hostile === undefined) return [];
  const h = r.hostile;
  const row = (label: string, f: typeof h.alone) =>
    `| ${label} | ${n(f.achievedRate)} | ${ms(f.latencyMs.p50)} | **${ms(f.latencyMs.p99)}** | ${ms(f.latencyMs.max)} | ${f.errors} | ${f.non2xx} |`;
  return [
    `## Hostile clients: a polite client at ${n(h.politeRate)} req/s beside ${h.stalledClients} connections that never read`,
    '',
    'The stalled connections ask for large uncached windows (most of the store) and read nothing',
    'past the status line; the idle timeout closes them and they are opened again. One API process.',
    '',
    '| polite client | achieved req/s | p50 ms | p99 ms | max ms | errors | non-2xx |',
    '|---|---:|---:|---:|---:|---:|---:|',
    row('alone', h.alone),
    row(`beside ${h.stalledClients} stalled clients`, h.underAttack),
    '',
    `API peak RSS during the attack: **${h.peakRssMb} MiB**; stalled requests answered 503 \`overloaded\`: ${n(h.refused)}.`,
    '',
  ];
}

function feeds(r: Results): string[] {
  if (r.feeds === undefined) return [];
  const row = (f: NonNullable<Results['feeds']>[number]) =>
    `| ${f.feeds} | ${f.slow ? 'yes' : 'no'} | ${n(f.bytes / 1024 ** 2, 0)} | ${n(f.events)} | ${n(f.wallMs / 1000, 1)} | ${n(f.mbPerSecond, 1)} | ${n(f.quickMedianMs / 1000, 2)} / ${n(f.quickMaxMs / 1000, 2)} | ${f.slowMs === null ? '–' : n(f.slowMs / 1000, 1)} | ${f.peakRssMb} |`;
  return [
    '## Several feeds on one node',
    '',
    'The same ~8 MB generated document as every feed (distinct ids per feed) from nginx, into an',
    'empty store, one `--once` run polling them all at once; past one feed, the last is served at',
    "1 MB/s. A feed's time is from its request to its events being visible (its poll).",
    'In a cluster, see "Several feeds in a cluster" below.',
    '',
    '| feeds | one slow | MiB | events | wall s | MiB/s | quick feeds s (median / max) | slow feed s | peak RSS MiB |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|',
    ...r.feeds.map(row),
    '',
  ];
}

function pages(r: Results): string[] {
  if (r.pages === undefined) return [];
  const p = r.pages;
  const rate = (t: { requestsPerSecond: number; latencyMs: { p99: number } }) =>
    `${n(t.requestsPerSecond)} | ${ms(t.latencyMs.p99)}`;
  return [
    `## Pages and one event, over ${n(p.events)} events`,
    '',
    'A client that wants the first 100 events, with `limit=100` and without (the unpaged answer is',
    'the whole store, streamed; the client hangs up once its first 100 events are in). Medians over',
    'sequential requests on fresh connections; then closed-loop throughput, 50 connections. One API',
    'process on one core, the load generator on the other.',
    '',
    '| first 100 events | time to first byte ms | time to the 100th event ms |',
    '|---|---:|---:|',
    `| \`/search?limit=100\` | ${ms(p.page.ttfbMs)} | **${ms(p.page.first100Ms)}** |`,
    `| \`/search\` (unpaged) | ${ms(p.unpaged.ttfbMs)} | ${ms(p.unpaged.first100Ms)} |`,
    '',
    '| closed loop | req/s | p99 ms |',
    '|---|---:|---:|',
    `| \`/search?limit=100\`, first page | ${rate(p.pageThroughput)} |`,
    `| \`/search?limit=100&cursor=…\`, second page | ${rate(p.cursorPageThroughput)} |`,
    ...eventRows(p, rate),
    '',
    `\`/events/{id}\` serves **${n(p.eventOfKoa, 2)}** of the Koa floor's req/s (an answer remembered per process until the store's version moves; else two LMDB lookups).`,
    ...eventPairedLines(p),
    '',
  ];
}

function eventRows(p: NonNullable<Results['pages']>, rate: (t: Throughput) => string): string[] {
  return [
    `| \`/events/{id}\` | ${rate(p.eventThroughput)} |`,
    `| Koa floor, the same event's bytes | ${rate(p.eventKoaFloor)} |`,
    ...(p.eventKoaSameAnswer === undefined
      ? []
      : [`| Koa floor, the same event's head and bytes | ${rate(p.eventKoaSameAnswer)} |`]),
  ];
}

/** Reports of runs before the paired rounds have no eventPaired. */
function eventPairedLines(p: NonNullable<Results['pages']>): string[] {
  const e = p.eventPaired;
  if (e === undefined) return [];
  return [
    `The three servers ran side by side in ${e.rounds} rounds (alternating order); ratios are medians of the rounds' own. Against the floor sending the same head: ${n(e.ofKoaSameAnswer.requestsPerSecond, 2)} of its req/s, ${n(e.ofKoaSameAnswer.cpuPerRequest, 2)} of its CPU per request (${n(e.ofKoa.cpuPerRequest, 2)} against the bare floor's).`,
  ];
}

function ingestion(r: Results): string[] {
  const lines: string[] = [];
  if (r.ingestion !== undefined) {
    lines.push(
      '## Ingestion (generated feeds, 100 zones per event, into an empty store)',
      '',
      '| feed | parse threads | MiB | events | seconds | MiB/s | events/s | peak RSS MiB |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      ...r.ingestion.map(
        (i) =>
          `| ${i.feed} | ${i.threads} | ${n(i.bytes / 1024 ** 2)} | ${n(i.events)} | ${n(i.ms / 1000, 1)} | **${n(i.mbPerSecond, 1)}** | ${n(i.eventsPerSecond)} | **${i.peakRssMb}** |`,
      ),
      '',
      'Where the time went, in seconds. The main thread: receiving the body, splitting it into',
      'chunks, storing what the workers read (LMDB puts and the commit), and idle while it waits for',
      'the workers; these add up to the whole poll. The workers, summed over threads: decoding and',
      'checking a chunk, condensing zones, sax, and reading events (normalizing and serializing).',
      '',
      '| feed | threads | fetch | split | store | waiting for workers | decode | condense zones | sax | read events |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...r.ingestion.map((i) => {
        const p = i.phases;
        const s = (x: number) => n(x / 1000, 1);
        return `| ${i.feed} | ${i.threads} | ${s(p.fetchMs)} | ${s(p.splitMs)} | ${s(p.storeMs)} | ${s(p.waitMs)} | ${s(p.decodeMs)} | ${s(p.condenseMs)} | ${s(p.saxMs)} | ${s(p.readMs)} |`;
      }),
      '',
    );
  }
  if (r.partners !== undefined) {
    const builtIn = r.ingestion?.filter((i) => i.threads === 2).at(-1);
    lines.push(
      '### Partners in their own formats (through their mappings, 2 parse threads, into an empty store)',
      '',
      'The shapes of the partner examples (packages/fixtures/partners), with as many prices per event',
      "as make their events the size of the built-in large feed's (100 zones each), at that feed's",
      "size; the built-in path's large feed of the same run beside them.",
      '',
      '| feed | MB | events | seconds | MB/s | peak RSS MiB |',
      '|---|---:|---:|---:|---:|---:|',
      ...(builtIn === undefined
        ? []
        : [
            `| built-in XML, ${builtIn.feed} | ${n(builtIn.bytes / 1e6)} | ${n(builtIn.events)} | ${n(builtIn.ms / 1000, 1)} | ${n(builtIn.bytes / 1e6 / (builtIn.ms / 1000), 1)} | ${builtIn.peakRssMb} |`,
          ]),
      ...r.partners.map(
        (p) =>
          `| mapped ${p.format.toUpperCase()} | ${n(p.bytes / 1e6)} | ${n(p.events)} | ${n(p.ms / 1000, 1)} | **${n(p.mbPerSecond, 1)}** | **${p.peakRssMb}** |`,
      ),
      '',
    );
  }
  if (r.unchanged !== undefined) {
    const { notModified, sameBytes } = r.unchanged;
    lines.push(
      '### A poll whose feed did not change (~100 MB feed already stored)',
      '',
      '| case | outcome | seconds | peak RSS MiB |',
      '|---|---|---:|---:|',
      `| provider answers 304 to If-None-Match | ${notModified.outcome} | ${n(notModified.durationMs / 1000, 2)} | ${notModified.peakRssMb} |`,
      `| provider sends the same ${n(sameBytes.bytes / 1024 ** 2)} MiB again (no validators) | ${sameBytes.outcome} | ${n(sameBytes.durationMs / 1000, 2)} | ${sameBytes.peakRssMb} |`,
      '',
    );
  }
  return lines;
}

function realServer(r: Results): string[] {
  if (r.realServer === undefined) return [];
  return [
    '## Ingestion from a real web server (nginx, connection closed after each answer)',
    '',
    '| feed | sent as | MiB on the wire | MiB | events | seconds | MiB/s | peak RSS MiB |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
    ...r.realServer.map(
      (x) =>
        `| ${x.feed} | ${x.encoding} | ${n(x.wireBytes / 1024 ** 2)} | ${n(x.bytes / 1024 ** 2)} | ${n(x.events)} | ${n(x.ms / 1000, 1)} | **${n(x.mbPerSecond, 1)}** | ${x.peakRssMb} |`,
    ),
    '',
  ];
}

function digestCost(r: Results): string[] {
  if (r.digestCost === undefined) return [];
  const d = r.digestCost;
  const mib = d.bytes / 1024 ** 2;
  const rate = (msTaken: number) => n(mib / (msTaken / 1000), 1);
  return [
    `## The state digest's cost (${n(d.events)} events, ${n(mib)} MiB of values, one apply into an empty store)`,
    '',
    '| what | ms | MiB/s of values |',
    '|---|---:|---:|',
    `| the apply transaction, state digest kept | ${n(d.applyMs)} | ${rate(d.applyMs)} |`,
    `| the same without folding the state digest (apply − fold) | ${n(d.applyMs - d.foldMs)} | ${rate(d.applyMs - d.foldMs)} |`,
    `| folding the state digest alone (what it adds) | ${n(d.foldMs)} | **${n((100 * d.foldMs) / d.applyMs, 1)} % of the apply** |`,
    `| record digests alone (the unchanged check needs them with or without the state digest) | ${n(d.recordDigestMs)} | ${n((100 * d.recordDigestMs) / d.applyMs, 1)} % of the apply |`,
    `| the boot-time check (a scan recomputing it) | ${n(d.verifyMs)} | |`,
    '',
  ];
}

function changeFeed(r: Results): string[] {
  if (r.changeFeed === undefined) return [];
  const c = r.changeFeed;
  const s = c.search;
  const row = (what: string, t: Throughput) =>
    `| ${what} | ${n(t.requestsPerSecond)} | ${n(t.latencyMs.p99, 2)} | ${t.cpuUsPerRequest === undefined ? '' : n(t.cpuUsPerRequest, 1)} |`;
  return [
    '## The change feed (one API process, one core; the bench process writes)',
    '',
    '| subscribers | commit → receipt p50 (ms) | p99 (ms) | max (ms) | samples |',
    '|---:|---:|---:|---:|---:|',
    ...c.latency.map(
      (l) =>
        `| ${n(l.subscribers)} | ${n(l.p50, 1)} | ${n(l.p99, 1)} | ${n(l.max, 1)} | ${n(l.samples)} |`,
    ),
    '',
    '| /search, one-week window | req/s | p99 (ms) | server CPU µs/request |',
    '|---|---:|---:|---:|',
    row('no subscriber', s.without),
    row(`beside ${n(s.subscribers)} connected subscribers`, s.beside),
    '',
    `| /search at a fixed ${n(c.fixed.without.targetRate)} req/s | p50 (ms) | p99 (ms) | p99.9 (ms) | errors |`,
    '|---|---:|---:|---:|---:|',
    ...(['without', 'beside'] as const).map((k) => {
      const f = c.fixed[k];
      return `| ${k === 'without' ? 'no subscriber' : `beside ${n(s.subscribers)} subscribers`} | ${n(f.latencyMs.p50, 2)} | ${n(f.latencyMs.p99, 2)} | ${n(f.latencyMs.p999, 2)} | ${n(f.errors + f.non2xx)} |`;
    }),
    '',
    `Beside ${n(s.subscribers)} subscribers /search keeps **${n(s.beside.requestsPerSecond / s.without.requestsPerSecond, 2)}** of its req/s. Memory: ${n(c.kibPerSubscriber, 1)} KiB of the API process's RSS per connected subscriber. Recording the changes of an apply of ${n(c.write.events)} new events (${n(c.write.applyMs)} ms): its writes alone take ${n(c.write.logMs)} ms, **${n(100 * c.write.share, 1)} % of the apply**.`,
    '',
  ];
}

function startup(r: Results): string[] {
  if (r.startup === undefined) return [];
  const s = r.startup;
  const runs = (values: number[] | undefined) =>
    values === undefined ? '' : ` | ${values.map((v) => n(v)).join(', ')}`;
  const starts = s.idleRuns?.length;
  return [
    `## API start-up: process start to its first /search answer (API_WORKERS=${s.apiWorkers})`,
    '',
    ...(starts !== undefined
      ? [
          `The median of ${starts} starts one after another; the cluster primary forks its first worker alone, the others once it listens.`,
          '',
          '| store | ms (median) | each start, ms |',
          '|---|---:|---|',
        ]
      : ['| store | ms |', '|---|---:|']),
    `| idle | ${n(s.idleMs)}${runs(s.idleRuns)} |`,
    `| the ingestor half-way through receiving a feed | **${n(s.underWriteMs)}**${runs(s.underWriteRuns)} |`,
    '',
  ];
}

function cluster(r: Results): string[] {
  if (r.cluster === undefined) return [];
  const c = r.cluster;
  return [
    `## Cluster: ${c.nodes} nodes over 3 NATS JetStream servers, all on this machine`,
    '',
    '| what | figure | target |',
    '|---|---:|---|',
    `| replication lag, commit on the stream → every node's /search, ${n(c.lag.changedEvents)} changed events per feed (${c.lag.samples} samples over ${c.lag.feeds} feeds) | p50 ${n(c.lag.p50Ms)} ms, **p99 ${n(c.lag.p99Ms)} ms**, max ${n(c.lag.maxMs)} ms | p99 ≤ 1 s |`,
    `| leader takeover after kill -9 of its ingestor (LEASE_MS ${n(c.leaseMs)}) | **${n(c.takeoverMs)} ms** | ≤ 2 lease periods (${n(2 * c.leaseMs)} ms) |`,
    `| an empty node catching up with ${n(c.catchUp.events)} events (read ${n(c.catchUp.messagesRead)} messages, ${n(c.catchUp.bytesRead / 1024 ** 2, 1)} MiB) | **${n(c.catchUp.catchUpMs)} ms** | ≤ 2 × a local ingest |`,
    `| one node ingesting the same feed alone (\`--once\`) | ${n(c.catchUp.localIngestMs)} ms (catch-up / local: **${n(c.catchUp.ratio, 2)}**) | |`,
    `| a node holding ${n(c.repair.events)} events, 1 % deleted and 1 % changed behind its back: restart → \`state_diverged\` | ${n(c.repair.detectMs)} ms | |`,
    `| … → re-synced (\`/ready\` 200 with the cluster's digest) | **${n(c.repair.repairMs)} ms** | |`,
    '',
  ];
}

function clusterFeeds(r: Results): string[] {
  if (r.clusterFeeds === undefined) return [];
  const c = r.clusterFeeds;
  return [
    `## Several feeds in a cluster: ${c.feeds} feeds of ~${c.feedMb} MB over ${c.nodes} nodes`,
    '',
    `Leases spread (last node started → every feed led, none over ceil(feeds / nodes)): ${n(c.spreadMs)} ms (LEASE_MS ${n(c.leaseMs)}). A round of new documents for every feed: every node held the single node's state digest ${n(c.convergeMs)} ms after the partners changed (polls every second); one single node ingesting the same round (\`--once\`) took ${n(c.singleNodeMs)} ms and ${n(c.singleNodeCpuSeconds, 1)} CPU s.`,
    '',
    '| node | feeds it leads | ingestor CPU s over the round |',
    '|---|---|---:|',
    ...c.perNode.map((p) => `| ${p.node} | ${p.leading.join(', ')} | ${n(p.cpuSeconds, 1)} |`),
    '',
  ];
}
