import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SettingsError } from '@tessera/core';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';

describe('simulator settings', () => {
  it('reads a plan and a source inline or from @file; flags win over the environment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-sim-config-'));
    try {
      const planFile = join(dir, 'plan.json');
      writeFileSync(planFile, '{"steps":[{"kind":"malformed"}]}');
      const config = loadConfig(
        { SIM_PLAN: '{"steps":[{"kind":"delay","ms":5}]}', SIM_PORT: '9000' },
        new Map([
          ['--plan', `@${planFile}`],
          ['--source', '{"kind":"generated","bases":2}'],
        ]),
      );
      expect(config.SIM_PLAN.steps).toEqual([{ kind: 'malformed' }]);
      expect(config.SIM_SOURCE).toMatchObject({ kind: 'generated', bases: 2, vocabulary: 'plan' });
      expect(config.SIM_PORT).toBe(9000);
      const inline = loadConfig({ SIM_PLAN: '{"steps":[{"kind":"delay","ms":5}]}' });
      expect(inline.SIM_PLAN.steps).toEqual([{ kind: 'delay', ms: 5 }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an unknown fault with one line naming the setting', () => {
    expect(() => loadConfig({ SIM_PLAN: '{"steps":[{"kind":"explode"}]}' })).toThrow(SettingsError);
    expect(() => loadConfig({ SIM_PLAN: '{"steps":[{"kind":"explode"}]}' })).toThrow(
      /^invalid setting SIM_PLAN: /,
    );
  });
});
