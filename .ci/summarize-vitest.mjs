// Adds up vitest JSON reports into the single line CI reads: "N passed, N failed".
// Exits non-zero when a test failed or no test ran at all.
import { existsSync, readFileSync } from 'node:fs';

let passed = 0;
let failed = 0;
for (const file of process.argv.slice(2)) {
  if (!existsSync(file)) continue;
  const report = JSON.parse(readFileSync(file, 'utf8'));
  passed += report.numPassedTests ?? 0;
  // A test file that failed to load has no failed test but did fail: count it once.
  failed += (report.numFailedTests ?? 0) + countFilesFailedWithoutTests(report);
}

function countFilesFailedWithoutTests(report) {
  return (report.testResults ?? []).filter(
    (file) =>
      file.status === 'failed' && !(file.assertionResults ?? []).some((t) => t.status === 'failed'),
  ).length;
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
