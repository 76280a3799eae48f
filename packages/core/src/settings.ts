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
  // An empty variable (`FOO=`, or compose's `${FOO:-}`) means "not set": its default applies.
  const given = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const result = schema.safeParse(given);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const name = String(issue?.path[0] ?? 'settings');
  const value = given[name];
  const shown = value === undefined ? '' : ` (got ${JSON.stringify(value.slice(0, 80))})`;
  throw new SettingsError(`invalid setting ${name}: ${issue?.message ?? 'invalid'}${shown}`);
}

/** Reusable zod pieces so that every process spells its settings the same way. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
