import { readFileSync } from 'node:fs';
import { fixturePath } from '@tessera/fixtures';
import { describe, expect, it } from 'vitest';
import { normalizeEvent } from '../src/normalize-event.js';
import { readProviderBase, readProviderItem } from '../src/provider-record.js';
import { VOCABULARIES } from '../src/vocabulary.js';
import { createTimeZone } from '../src/wall-clock.js';

const ctx = { provider: 'feverup', timeZone: createTimeZone('UTC') };

function attributesOf(xml: string, element: string): Record<string, string> {
  const tag = new RegExp(`<${element} ([^>]*?)/?>`).exec(xml)?.[1] ?? '';
  return Object.fromEntries([...tag.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
}

describe('normalizeEvent', () => {
  for (const vocab of VOCABULARIES) {
    it(`gives base 444's impossible 2021-09-31 (${vocab.name}) a reason code, not a crash`, () => {
      const xml = readFileSync(fixturePath(vocab.name, 3), 'utf8');
      const block = xml.slice(xml.indexOf(`${vocab.baseId}="444"`) - vocab.base.length - 2);
      const base = readProviderBase(vocab, attributesOf(block, vocab.base));
      const item = readProviderItem(vocab, attributesOf(block, vocab.item));
      if (!base.ok || !item.ok) throw new Error('fixture attributes unreadable');
      expect(base.value.sellMode).toBe('offline');
      const result = normalizeEvent(ctx, base.value, item.value, { min: 65, max: 65 });
      expect(result).toEqual({
        ok: false,
        rejection: expect.objectContaining({ code: 'invalid_datetime', field: 'start' }),
      });
    });
  }

  it('derives instants in the provider time zone but keeps the wall clock for display', () => {
    const madrid = { provider: 'feverup', timeZone: createTimeZone('Europe/Madrid') };
    const result = normalizeEvent(
      madrid,
      { baseId: '1', sellMode: 'online', title: 'T' },
      { eventId: '2', startsAt: '2021-06-30T21:00:00', endsAt: '2021-06-30T22:00:00' },
      { min: 1, max: 2 },
    );
    expect(result.ok && result.event).toMatchObject({
      startDate: '2021-06-30',
      startTime: '21:00:00',
      startsAt: Date.parse('2021-06-30T19:00:00Z'),
      endsAt: Date.parse('2021-06-30T20:00:00Z'),
    });
  });
});
