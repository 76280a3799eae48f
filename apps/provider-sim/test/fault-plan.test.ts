import { describe, expect, it } from 'vitest';
import { FaultPlanSchema, FaultScript, parsePlan } from '../src/fault-plan.js';

describe('FaultScript', () => {
  const steps = [{ kind: 'status', status: 503 }, { kind: 'html200' }];

  it.each([
    ['none', ['status', 'html200', 'none', 'none']],
    ['repeat_last', ['status', 'html200', 'html200', 'html200']],
    ['cycle', ['status', 'html200', 'status', 'html200']],
  ])('hands out one step per request, then %s', (afterwards, kinds) => {
    const script = new FaultScript(FaultPlanSchema.parse({ steps, afterwards }));
    expect(Array.from({ length: 4 }, () => script.next().kind)).toEqual(kinds);
  });

  it('reads a plan inline or from @file and refuses unknown faults', () => {
    const inline = parsePlan('{"steps":[{"kind":"delay","ms":5}]}', () => '');
    expect(inline.steps[0]).toEqual({ kind: 'delay', ms: 5 });
    const fromFile = parsePlan('@plan.json', (path) =>
      path === 'plan.json' ? '{"steps":[{"kind":"malformed"}]}' : '',
    );
    expect(fromFile.steps[0]?.kind).toBe('malformed');
    expect(() => parsePlan('{"steps":[{"kind":"explode"}]}', () => '')).toThrow();
  });
});
