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

/** Environment first; `--port`, `--source` and `--plan` flags override it. */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  argv: readonly string[],
): SimConfig {
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === '--port' && value !== undefined) flags.SIM_PORT = value;
    if (flag === '--source' && value !== undefined) flags.SIM_SOURCE = value;
    if (flag === '--plan' && value !== undefined) flags.SIM_PLAN = value;
  }
  return parseSettings(SimConfigSchema, { ...env, ...flags });
}
