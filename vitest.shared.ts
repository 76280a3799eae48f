/**
 * Every package's vitest run writes a JSON report to reports/vitest.json; `.ci/run` adds them up
 * into the one "N passed, N failed" line CI reads.
 */
export const sharedTestConfig = {
  include: ['test/**/*.test.ts'],
  reporters: ['default', 'json'],
  outputFile: { json: 'reports/vitest.json' },
  testTimeout: 20_000,
  hookTimeout: 30_000,
};
