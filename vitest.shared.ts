import { ErrorReport } from './vitest.error-report.js';

/**
 * Every package's vitest run writes a JSON report to reports/vitest.json, and the errors raised
 * outside any test to reports/unhandled-errors.json; `.ci/run` adds them up into the one
 * "N passed, N failed" line CI reads.
 */
export const sharedTestConfig = {
  include: ['test/**/*.test.ts'],
  reporters: ['default', 'json', new ErrorReport('reports/unhandled-errors.json')],
  outputFile: { json: 'reports/vitest.json' },
  testTimeout: 20_000,
  hookTimeout: 30_000,
};
