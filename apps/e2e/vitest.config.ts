import { defineConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.js';

export default defineConfig({
  test: {
    ...sharedTestConfig,
    // Real processes on two shared cores: one file at a time keeps timings honest.
    fileParallelism: false,
    testTimeout: 120_000,
  },
});
