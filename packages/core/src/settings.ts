import type { z } from 'zod';

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

/**
 * Parses process settings (an env-like record) with a zod schema, once, at boot. On a bad value
 * it throws one readable line naming the variable, which `main.ts` prints before exiting.
 * Pure: the caller passes `process.env`.
 */
export function parseSettings<S extends z.ZodType>(
  schema: S,
  env: Readonly<Record<string, string | undefined>>,
): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const name = String(issue?.path[0] ?? 'settings');
  const given = env[name];
  const shown = given === undefined ? '' : ` (got ${JSON.stringify(given.slice(0, 80))})`;
  throw new SettingsError(`invalid setting ${name}: ${issue?.message ?? 'invalid'}${shown}`);
}

/** Reusable zod pieces so that every process spells its settings the same way. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
