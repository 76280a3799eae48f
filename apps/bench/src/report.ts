import type { Results } from './results.js';

const n = (x: number, digits = 0) =>
  x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** docs/benchmarks.md: the measured tables, then the hand-kept notes (findings and profiles). */
export function renderReport(r: Results, notes: string): string {
  const lines = [
    '# Benchmarks',
    '',
    `Measured by \`make bench\` on ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC, everything in one run on one machine, the load`,
    'generator included (it competes with the server for the same cores). Figures from one run: compare',
    'rows of the same run, not runs of different days. Raw data: [benchmarks.json](benchmarks.json).',
    '',
    '## Machine and versions',
    '',
    `- CPU: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGb} GiB; ${r.machine.kernel}`,
    `- Node ${r.node}; ${Object.entries(r.packages)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `- Load: ${r.loadGenerator} for closed-loop throughput, autocannon for fixed rates; API with ${r.settings.apiWorkers} cluster workers`,
    '',
    '## Commands',
    '',
    '```sh',
    'make bench   # BENCH_SECONDS, BENCH_FIXED_SECONDS, BENCH_EVENTS, BENCH_LARGE_MB adjust it',
    ...r.commands,
    '```',
    '',
    '## GET /search throughput, keep-alive, next to raw node:http sending the same bytes',
    '',
    '| scenario | events | body | API req/s | API p50 / p99 ms | raw req/s | raw p50 / p99 ms | API / raw |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...r.search.map(
      (s) =>
        `| ${s.scenario} | ${n(s.events)} | ${n(s.bodyBytes / 1024, 1)} KiB | ${n(s.api.requestsPerSecond)} | ${n(s.api.latencyMs.p50, 2)} / ${n(s.api.latencyMs.p99, 2)} | ${n(s.raw.requestsPerSecond)} | ${n(s.raw.latencyMs.p50, 2)} / ${n(s.raw.latencyMs.p99, 2)} | **${n(s.ratio, 2)}** |`,
    ),
    '',
    `## Fixed request rates, ${r.settings.fixedSeconds} s each (${n(r.settings.events)} events, one-week window)`,
    '',
    '![latency under load](benchmarks-latency.svg)',
    '',
    '| rate | while | achieved req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors | non-2xx |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...r.fixedRate.map(
      (f) =>
        `| ${n(f.targetRate)} | ${f.during} | ${n(f.achievedRate)} | ${n(f.latencyMs.p50, 2)} | ${n(f.latencyMs.p90, 2)} | **${n(f.latencyMs.p99, 2)}** | ${n(f.latencyMs.p999, 2)} | ${n(f.latencyMs.max, 1)} | ${f.errors} | ${f.non2xx} |`,
    ),
    '',
    '## Ingestion (generated feeds, 100 zones per event, into an empty store)',
    '',
    '| feed | parse threads | MiB | events | seconds | MiB/s | events/s | peak RSS MiB |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...r.ingestion.map(
      (i) =>
        `| ${i.feed} | ${i.threads} | ${n(i.bytes / 1024 ** 2)} | ${n(i.events)} | ${n(i.ms / 1000, 1)} | **${n(i.mbPerSecond, 1)}** | ${n(i.eventsPerSecond)} | **${i.peakRssMb}** |`,
    ),
    '',
    '### A poll whose feed did not change (~100 MB feed already stored)',
    '',
    '| case | outcome | seconds | peak RSS MiB |',
    '|---|---|---:|---:|',
    `| provider answers 304 to If-None-Match | ${r.unchanged.notModified.outcome} | ${n(r.unchanged.notModified.ms / 1000, 2)} | ${r.unchanged.notModified.rss} |`,
    `| provider sends the same ${n(r.unchanged.sameBytes.mb)} MiB again (no validators) | ${r.unchanged.sameBytes.outcome} | ${n(r.unchanged.sameBytes.ms / 1000, 2)} | ${r.unchanged.sameBytes.rss} |`,
    '',
    notes.trim(),
    '',
  ];
  return lines.join('\n');
}
