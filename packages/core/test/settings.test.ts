import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseSettings, SettingsError } from '../src/settings.js';

const schema = z.object({
  PORT: z.coerce.number().int().min(1).max(65535).default(8000),
  NAME: z.string().min(1).default('x'),
});

describe('parseSettings', () => {
  it('applies defaults and coerces', () => {
    expect(parseSettings(schema, {})).toEqual({ PORT: 8000, NAME: 'x' });
    expect(parseSettings(schema, { PORT: '9000' }).PORT).toBe(9000);
  });

  it('treats an empty variable as unset', () => {
    expect(parseSettings(schema, { PORT: '', NAME: '' })).toEqual({ PORT: 8000, NAME: 'x' });
  });

  it('fails with one line naming the variable and the value', () => {
    let error: unknown;
    try {
      parseSettings(schema, { PORT: 'eighty' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SettingsError);
    expect(String((error as Error).message)).toMatch(/^invalid setting PORT: .*\(got "eighty"\)$/);
    expect((error as Error).message).not.toContain('\n');
  });
});
