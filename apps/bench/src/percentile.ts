/**
 * The nearest-rank percentile of values sorted ascending: the smallest value that a share `q`
 * (0–1) of them do not exceed; 0 for none. By this rank the p99 of fewer than 101 values is their
 * largest, which is why a scenario reporting a p99 takes more.
 */
export function nearestRank(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
