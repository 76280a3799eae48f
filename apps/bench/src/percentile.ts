/**
 * The nearest-rank percentile of values sorted ascending: the smallest value that a share `q`
 * (0–1) of them do not exceed; 0 for none. By this rank the p99 of fewer than 101 values is their
 * largest, which is why a scenario reporting a p99 takes more.
 */
export function nearestRank(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/**
 * The median: the middle value, or for an even count the mean of the two middle ones (the upper
 * one alone, taken for a ratio of rounds, leans every comparison the same way); NaN for none.
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const half = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[half]! : (sorted[half - 1]! + sorted[half]!) / 2;
}
