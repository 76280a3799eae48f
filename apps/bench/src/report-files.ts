import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@tessera/testkit';
import { costChart, latencyChart } from './chart.js';
import { renderReport } from './report.js';
import type { Results } from './results.js';
import type { RuntimeComparison } from './runtimes.js';

const DOCS = join(REPO_ROOT, 'docs');
/** The last `make bench-runtimes` run, shown in the report beside the last `make bench` run. */
export const RUNTIMES_FILE = join(DOCS, 'benchmarks-runtimes.json');

/** The last runtime comparison written, if any. */
export function readRuntimes(): RuntimeComparison | undefined {
  return existsSync(RUNTIMES_FILE)
    ? (JSON.parse(readFileSync(RUNTIMES_FILE, 'utf8')) as RuntimeComparison)
    : undefined;
}

/** docs/benchmarks.md from a run's results, the notes and the last runtime comparison. */
export function writeMarkdown(results: Results): void {
  const notes = readFileSync(join(DOCS, 'benchmarks-notes.md'), 'utf8');
  writeFileSync(join(DOCS, 'benchmarks.md'), renderReport(results, notes, readRuntimes()));
}

export async function writeReport(results: Results): Promise<void> {
  mkdirSync(DOCS, { recursive: true });
  writeFileSync(join(DOCS, 'benchmarks.json'), `${JSON.stringify(results, null, 2)}\n`);
  if (results.fixedRate !== undefined) {
    const points = results.fixedRate.flatMap((r) =>
      (['p50', 'p90', 'p99', 'p999'] as const).map((p) => ({
        run: `${r.targetRate / 1000}k/s${r.during === 'ingesting' ? ' + ingest' : ''}${r.pinned ? ' pinned' : ''}`,
        percentile: p === 'p999' ? 'p99.9' : p,
        ms: r.latencyMs[p],
      })),
    );
    writeFileSync(join(DOCS, 'benchmarks-latency.svg'), await latencyChart(points));
  }
  if (results.costCurve !== undefined) {
    const { byResultSize, byStoreSize } = results.costCurve;
    const points = [
      ...byResultSize.map((p) => ({ curve: 'answer' as const, events: p.events, p })),
      ...byStoreSize.map((p) => ({ curve: 'store' as const, events: p.storeEvents, p })),
    ].flatMap(({ curve, events, p }) =>
      (['cached', 'uncached'] as const).map((mode) => ({
        curve,
        events,
        mode,
        requestsPerSecond: p[mode].requestsPerSecond,
      })),
    );
    writeFileSync(join(DOCS, 'benchmarks-cost.svg'), await costChart(points));
  }
  writeMarkdown(results);
}
