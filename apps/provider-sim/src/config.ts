import { readFileSync } from 'node:fs';
import { LOG_LEVELS, parseSettings } from '@tessera/core';
import { FaultPlanSchema, SourceSchema } from '@tessera/simulator';
import { z } from 'zod';

const jsonOrFile = <S extends z.ZodType>(schema: S) =>
  z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(
          text.startsWith('@') ? readFileSync(text.slice(1), 'utf8') : text,
        ) as unknown;
      } catch (error) {
        ctx.addIssue({
          code: 'custom',
          message: `not JSON or a readable @file: ${(error as Error).message}`,
        });
        return z.NEVER;
      }
    })
    .pipe(schema);

export const SimConfigSchema = z.object({
  SIM_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  SIM_HOST: z.string().min(1).default('127.0.0.1'),
  /** `{"kind":"fixtures"}` (default: today's vocabulary, rotating), `{"kind":"generated",…}` or `{"kind":"document",…}`, inline or `@file`. */
  SIM_SOURCE: jsonOrFile(SourceSchema).default(SourceSchema.parse({ kind: 'fixtures' })),
  /** A fault plan, inline JSON or `@file`; see fault-plan.ts. */
  SIM_PLAN: jsonOrFile(FaultPlanSchema).default({ steps: [], afterwards: 'none' }),
  SIM_GZIP: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  /** `false`: no ETag, no 304; every poll downloads the whole feed. */
  SIM_CONDITIONAL: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
});
export type SimConfig = z.infer<typeof SimConfigSchema>;

/** The flags that stand for settings: given, they override the environment. */
export const SIM_FLAGS = {
  '--port': { setting: 'SIM_PORT', value: '<port>', summary: 'SIM_PORT' },
  '--source': { setting: 'SIM_SOURCE', value: '<json|@file>', summary: 'SIM_SOURCE' },
  '--plan': { setting: 'SIM_PLAN', value: '<json|@file>', summary: 'SIM_PLAN' },
} as const;

/** Environment first; the flags override it. */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  flags: ReadonlyMap<string, string | true> = new Map(),
): SimConfig {
  const given: Record<string, string> = {};
  for (const [flag, { setting }] of Object.entries(SIM_FLAGS)) {
    const value = flags.get(flag);
    if (typeof value === 'string') given[setting] = value;
  }
  return parseSettings(SimConfigSchema, { ...env, ...given });
}
