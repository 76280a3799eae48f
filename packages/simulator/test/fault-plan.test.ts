import { describe, expect, it } from 'vitest';
import { FaultPlanSchema, FaultScript } from '../src/fault-plan.js';

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
});
