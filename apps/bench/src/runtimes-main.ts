import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@tessera/testkit';
import { RUNTIMES_FILE, writeMarkdown } from './report-files.js';
import type { Results } from './results.js';
import type { RuntimeComparison } from './runtimes.js';

/**
 * The last step of `make bench-runtimes` (scripts/bench-runtimes): gathers each run's
 * benchmarks.json, given as COMMIT@VERSION=FILE arguments in run order, into
 * docs/benchmarks-runtimes.json, and renders docs/benchmarks.md again with it.
 */
const [startedAt = new Date().toISOString(), ...runs] = process.argv.slice(2);
const pinned = readFileSync(join(REPO_ROOT, '.node-version'), 'utf8').trim();
const comparison: RuntimeComparison = {
  startedAt,
  runs: runs.map((arg) => {
    const [run = '', file = ''] = arg.split('=');
    const [commit = '', version = ''] = run.split('@');
    return {
      commit,
      version,
      pinned: version === pinned,
      results: JSON.parse(readFileSync(file, 'utf8')) as Results,
    };
  }),
};
writeFileSync(RUNTIMES_FILE, `${JSON.stringify(comparison, null, 2)}\n`);
writeMarkdown(
  JSON.parse(readFileSync(join(REPO_ROOT, 'docs', 'benchmarks.json'), 'utf8')) as Results,
);
console.log(`wrote ${RUNTIMES_FILE} and docs/benchmarks.md`);
