// Adds up the vitest JSON reports of every package that has tests into the single line CI reads:
// "N passed, N failed", errors raised outside any test counted as failures. Exits non-zero when a
// test failed or no test ran at all. Each failed test is
// named on stderr first (file, name, the failure's first line): CI's log keeps only the tail of the
// output, and a flaky failure must be identifiable from that tail alone.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

let passed = 0;
let failed = 0;
for (const dir of process.argv.slice(2)) {
  const manifest = join(dir, 'package.json');
  if (!existsSync(manifest)) continue;
  if (JSON.parse(readFileSync(manifest, 'utf8')).scripts?.test === undefined) continue;
  const file = join(dir, 'reports/vitest.json');
  if (!existsSync(file)) {
    // A suite that crashed or never ran has no report: that is a failure, not zero tests.
    console.error(`${dir}: no vitest report (the suite crashed or did not run)`);
    failed += 1;
    continue;
  }
  const report = JSON.parse(readFileSync(file, 'utf8'));
  passed += report.numPassedTests ?? 0;
  // A test file that failed to load has no failed test but did fail: count it once.
  failed += (report.numFailedTests ?? 0) + countFilesFailedWithoutTests(report);
  for (const line of describeFailures(report)) console.error(`${dir}: ${line}`);
  // Errors outside any test fail vitest's run without failing a test: each counts as a failure.
  const errors = readUnhandledErrors(join(dir, 'reports/unhandled-errors.json'));
  failed += errors.length;
  for (const e of errors)
    console.error(`${dir}: FAILED outside any test: ${e.name}: ${firstLine(e.message)}`);
}

function readUnhandledErrors(file) {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')).errors ?? []) : [];
}

function describeFailures(report) {
  return (report.testResults ?? []).flatMap((file) => {
    const name = file.name.slice(file.name.lastIndexOf('/') + 1);
    const tests = (file.assertionResults ?? []).filter((t) => t.status === 'failed');
    if (tests.length === 0 && file.status === 'failed')
      return [`FAILED ${name}: ${firstLine(file.message)}`];
    return tests.map((t) => `FAILED ${name} > ${t.fullName}: ${firstLine(t.failureMessages?.[0])}`);
  });
}

function firstLine(text) {
  return (text ?? '').split('\n', 1)[0].slice(0, 300);
}

function countFilesFailedWithoutTests(report) {
  return (report.testResults ?? []).filter(
    (file) =>
      file.status === 'failed' && !(file.assertionResults ?? []).some((t) => t.status === 'failed'),
  ).length;
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
