/** Polls `check` until it returns a truthy value or the time runs out. */
export async function waitUntil<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 30_000, intervalMs = 25, what = 'condition' } = {},
): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > until) {
      const suffix = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${suffix}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** GETs a URL and parses JSON, or returns undefined when nothing answers yet. */
export async function getJson<T = unknown>(url: string): Promise<T | undefined> {
  try {
    const res = await fetch(url);
    return (await res.json()) as T;
  } catch {
    return undefined;
  }
}
