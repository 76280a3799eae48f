import { parseSettings } from '@tessera/core';
import { z } from 'zod';

const positive = (fallback: number) => z.coerce.number().positive().default(fallback);

/** `make bench` settings: shorter runs for a quick look, longer for steadier figures. */
export const BenchConfigSchema = z.object({
  /** Seconds of each closed-loop throughput measurement. */
  BENCH_SECONDS: positive(15),
  /** Seconds of each fixed-rate measurement. */
  BENCH_FIXED_SECONDS: positive(30),
  /** Events in the large store the /search scenarios read. */
  BENCH_EVENTS: z.coerce.number().int().min(1_000).default(100_000),
  /** Size of the large ingestion feed, in MB. */
  /** The store the pages scenario pages through (its unpaged answer is ~250 MB at 1M). */
  BENCH_PAGE_EVENTS: z.coerce.number().int().min(1_000).default(1_000_000),
  BENCH_LARGE_MB: z.coerce.number().int().min(10).default(1_000),
  /**
   * The commit /search is measured against in the same run (a ref git resolves: a hash, a tag,
   * `HEAD~1` for a change just committed), or `none`. b5f07fe: the API before the consumer API
   * and the several-feeds work, the reference of the hot path's figures (docs/benchmarks-notes.md).
   */
  BENCH_BASELINE: z.string().min(1).default('b5f07fe'),
  /** Comma-separated scenario names to run (default: all); the report shows what ran. */
  BENCH_ONLY: z
    .string()
    .optional()
    .transform((text) =>
      text === undefined ? undefined : new Set(text.split(',').map((s) => s.trim())),
    ),
});
export type BenchConfig = z.infer<typeof BenchConfigSchema>;

export function loadConfig(env: Readonly<Record<string, string | undefined>>): BenchConfig {
  return parseSettings(BenchConfigSchema, env);
}
