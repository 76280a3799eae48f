import { z } from 'zod';

/**
 * One scripted behaviour for one request. `none` serves the current source normally; every
 * other kind is a way the partner has misbehaved, or could.
 */
export const FaultSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('none') }),
  /** Waits before sending the headers. */
  z.object({ kind: z.literal('delay'), ms: z.number().int().min(0) }),
  /**
   * Sends `afterBytes` of the body, then holds the connection open until the control API
   * releases it (`POST /control/release`): a slow partner under the test's control.
   */
  z.object({ kind: z.literal('hold'), afterBytes: z.number().int().min(0).default(65_536) }),
  /** Sends the body a few bytes at a time. */
  z.object({
    kind: z.literal('drip'),
    bytesPerTick: z.number().int().min(1).default(64),
    intervalMs: z.number().int().min(1).default(100),
  }),
  z.object({
    kind: z.literal('status'),
    status: z.number().int().min(400).max(599),
    retryAfterSeconds: z.number().int().min(0).optional(),
  }),
  /** An HTML error page sent with 200, as proxies do. */
  z.object({ kind: z.literal('html200') }),
  /** Resets the connection after some body bytes. */
  z.object({ kind: z.literal('reset'), afterBytes: z.number().int().min(0).default(512) }),
  /** Announces the full Content-Length, sends part of it, and closes. */
  z.object({ kind: z.literal('truncate'), afterBytes: z.number().int().min(0).default(512) }),
  /** The feed cut in the middle of an element, served complete as if nothing were wrong. */
  z.object({ kind: z.literal('malformed') }),
  z.object({ kind: z.literal('wrong_root') }),
  /** A well-formed feed with some records' dates impossible (2021-09-31, 2021-02-29). */
  z.object({ kind: z.literal('invalid_dates') }),
  /** A well-formed feed with some records missing their id or end date. */
  z.object({ kind: z.literal('missing_attributes') }),
  z.object({
    kind: z.literal('huge_attribute'),
    bytes: z
      .number()
      .int()
      .min(1)
      .default(1024 * 1024),
  }),
  z.object({ kind: z.literal('deep_nesting'), depth: z.number().int().min(1).default(10_000) }),
  /** A DOCTYPE declaring a billion-laughs entity and an external entity on the control port. */
  z.object({ kind: z.literal('entity_bomb') }),
  /** A small gzip body that inflates to `inflatedBytes`. */
  z.object({
    kind: z.literal('gzip_bomb'),
    inflatedBytes: z
      .number()
      .int()
      .min(1)
      .default(1024 ** 3),
  }),
]);
export type Fault = z.infer<typeof FaultSchema>;

export const FaultPlanSchema = z.object({
  /** One fault per request, in order. */
  steps: z.array(FaultSchema).default([]),
  /** After the last step: serve normally, repeat the last step, or start over. */
  afterwards: z.enum(['none', 'repeat_last', 'cycle']).default('none'),
});
export type FaultPlan = z.infer<typeof FaultPlanSchema>;

/** Hands out the fault for each request in turn. */
export class FaultScript {
  private index = 0;
  constructor(private plan: FaultPlan = FaultPlanSchema.parse({})) {}

  replace(plan: FaultPlan): void {
    this.plan = plan;
    this.index = 0;
  }

  next(): Fault {
    const { steps, afterwards } = this.plan;
    const i = this.index++;
    if (i < steps.length) return steps[i]!;
    if (steps.length === 0 || afterwards === 'none') return { kind: 'none' };
    if (afterwards === 'repeat_last') return steps[steps.length - 1]!;
    return steps[i % steps.length]!;
  }

  get remaining(): number {
    return Math.max(0, this.plan.steps.length - this.index);
  }
}
