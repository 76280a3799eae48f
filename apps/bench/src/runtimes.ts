import type { Results } from './results.js';

/**
 * `make bench-runtimes`: /search and ingestion scenarios of given commits on given Node.js
 * versions, one after another in one invocation (each run with its own install, native addons
 * built for it), so that a change of runtime is judged by figures of one run.
 */
export interface RuntimeComparison {
  startedAt: string;
  /** In run order; `pinned` is the version .node-version names. */
  runs: Array<{ commit: string; version: string; pinned: boolean; results: Results }>;
}

const fixed = (n: number, digits = 1) => n.toFixed(digits);
const thousands = (n: number) => Math.round(n).toLocaleString('en-US');

export function renderRuntimes(c: RuntimeComparison): string[] {
  const baseline = c.runs[0];
  if (baseline === undefined) return [];
  const label = (run: RuntimeComparison['runs'][number]) =>
    `${run.commit} on Node ${run.version}${run.pinned ? ' (pinned)' : ''}`;
  const lines = [
    '## Runtimes: Node.js lines side by side',
    '',
    `Measured by \`make bench-runtimes\` on ${c.startedAt.slice(0, 16).replace('T', ' ')} UTC: the /search and ingestion`,
    'scenarios of `make bench` for each commit on each Node.js version in turn, each run with its own install',
    `(native addons built for it); ratios are against ${label(baseline)}. This section is from that run,`,
    'not from the run above.',
    '',
    '| /search (one API process)                | ' + c.runs.map(label).join(' | ') + ' |',
    `| ---------------------------------------- | ${c.runs.map(() => '---:').join(' | ')} |`,
  ];
  const scenarios = baseline.results.search ?? [];
  for (const [i, s] of scenarios.entries()) {
    const rps = c.runs.map((r) => r.results.search?.[i]?.tessera.requestsPerSecond ?? Number.NaN);
    const cpu = c.runs.map(
      (r) => r.results.search?.[i]?.tessera.medianCpuUsPerRequest ?? Number.NaN,
    );
    lines.push(
      `| ${s.scenario}: req/s | ${rps.map((v) => `${thousands(v)} (${fixed(v / rps[0]!, 2)})`).join(' | ')} |`,
      `| ${s.scenario}: CPU µs per request | ${cpu.map((v) => `${fixed(v)} (${fixed(v / cpu[0]!, 2)})`).join(' | ')} |`,
      `| ${s.scenario}: p99 ms | ${c.runs.map((r) => fixed(r.results.search?.[i]?.tessera.latencyMs.p99 ?? Number.NaN, 2)).join(' | ')} |`,
    );
  }
  lines.push(
    '',
    '| ingestion (`--once` into an empty store) | ' + c.runs.map(label).join(' | ') + ' |',
    `| ---------------------------------------- | ${c.runs.map(() => '---:').join(' | ')} |`,
  );
  for (const [i, ingest] of (baseline.results.ingestion ?? []).entries()) {
    const runs = c.runs.map((r) => r.results.ingestion?.[i]);
    const mbs = runs.map((r) => r?.mbPerSecond ?? Number.NaN);
    lines.push(
      `| ${ingest.feed}, ${ingest.threads} thread(s): MB/s | ${mbs.map((v) => `${fixed(v)} (${fixed(v / mbs[0]!, 2)})`).join(' | ')} |`,
      `| ${ingest.feed}, ${ingest.threads} thread(s): peak RSS MiB | ${runs.map((r) => thousands(r?.peakRssMb ?? Number.NaN)).join(' | ')} |`,
    );
  }
  lines.push('');
  return lines;
}
