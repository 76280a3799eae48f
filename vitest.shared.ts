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
  pool: 'forks' as const,
  poolOptions: {
    forks: {
      // Node 20's require(esm) can abort the process ("v8::Module::IsGraphAsync must be used on
      // an instantiated module") when vitest imports a module that a CommonJS dependency is
      // requiring at the same moment; seen here about one run in four. Nothing in Tessera needs
      // require(esm), so the test processes turn it off.
      execArgv: ['--no-experimental-require-module'],
    },
  },
};
