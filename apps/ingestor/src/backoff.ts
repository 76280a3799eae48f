export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/**
 * Delay before retrying after `failures` consecutive failed polls: exponential with full jitter
 * (a uniform draw below the exponential ceiling, so that many ingestors do not retry in step),
 * capped, and never shorter than the provider's Retry-After (itself capped).
 */
export function backoffDelay(
  policy: BackoffPolicy,
  failures: number,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, failures - 1));
  const jittered = Math.floor(random() * ceiling);
  const floor = retryAfterMs === undefined ? 0 : Math.min(retryAfterMs, policy.maxMs);
  return Math.max(jittered, floor);
}
