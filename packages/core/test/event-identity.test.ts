import { describe, expect, it } from 'vitest';
import { eventIdFor } from '../src/event-identity.js';

describe('eventIdFor', () => {
  it('is a UUID v5, stable across calls and processes', () => {
    const id = eventIdFor('feverup', '291', '291');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(eventIdFor('feverup', '291', '291')).toBe(id);
    // Pinned: a changed value would change every public id already handed out.
    expect(id).toBe('c7208ea2-4f93-5f23-b4da-b274bcbb6050');
  });

  it('tells apart the same event id under different base events and providers', () => {
    const ids = new Set([
      eventIdFor('feverup', '322', '1642'),
      eventIdFor('feverup', '1591', '1642'),
      eventIdFor('feverup', '444', '1642'),
      eventIdFor('other', '322', '1642'),
    ]);
    expect(ids.size).toBe(4);
  });

  it('cannot be confused by ids that share digits across the boundary', () => {
    expect(eventIdFor('p', '12', '3')).not.toBe(eventIdFor('p', '1', '23'));
  });
});
