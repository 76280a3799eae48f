import { describe, expect, it } from 'vitest';
import { checkEnvelope } from '../src/feed-envelope.js';

const b = (s: string) => Buffer.from(s);

describe('checkEnvelope', () => {
  it('accepts both vocabularies and names the one found', () => {
    expect(
      checkEnvelope(b('<?xml version="1.0"?><eventList><output>'), b('</output></eventList>')).name,
    ).toBe('event');
    expect(
      checkEnvelope(b('<planList version="1.0"><output>'), b('</output></planList>\n')).name,
    ).toBe('plan');
    expect(checkEnvelope(b('<planList><output/></planList>'), b('')).name).toBe('plan');
  });

  it.each([
    ['<planList><output>', '</output>', 'feed_malformed'],
    ['<planList><output>', '</output></eventList>', 'feed_malformed'],
    ['<catalogue><output>', '</output></catalogue>', 'feed_malformed'],
    ['<planList>', '</planList>', 'feed_malformed'],
    [
      '<!DOCTYPE planList [<!ENTITY a "b">]><planList><output>',
      '</output></planList>',
      'feed_malformed',
    ],
    ['<!DOCTYPE html><html><body>502</body></html>', '', 'feed_not_xml'],
    ['<html><body>502</body></html>', '', 'feed_not_xml'],
    ['', '', 'feed_malformed'],
  ])('refuses %j + %j as %s', (head, tail, code) => {
    expect(() => checkEnvelope(b(head), b(tail))).toThrow(expect.objectContaining({ code }));
  });
});
