import { PARTNER_EXAMPLES } from '@tessera/fixtures';
import { describe, expect, it } from 'vitest';
import {
  BUILT_IN_FORMAT,
  compileMapping,
  condensablePrices,
  type Mapping,
  MappingError,
  parseFeedFormat,
} from '../src/index.js';

const fields = {
  event_id: 'id',
  title: 'name',
  starts_at: 'start',
  ends_at: 'end',
};
const json = (over: Record<string, unknown>) => ({
  type: 'json',
  records: 'items[*]',
  fields: { ...fields, ...over },
});
const xml = (over: Record<string, unknown>, records = 'root/item') => ({
  type: 'xml',
  records,
  fields: { ...fields, ...over },
});

describe('a feed format', () => {
  it('absent or "fever" is the built-in path', () => {
    expect(parseFeedFormat(undefined)).toBe(BUILT_IN_FORMAT);
    expect(parseFeedFormat('fever')).toBe(BUILT_IN_FORMAT);
  });

  it.each([
    ['an unknown format name', 'csv', 'format'],
    ['an unknown type', { type: 'yaml', records: 'x', fields }, 'type'],
    ['an unknown field', json({ venue: 'venue.name' }), 'fields'],
    [
      'a required field missing',
      { type: 'json', records: 'items[*]', fields: { event_id: 'id' } },
      'fields.title',
    ],
    ['a JSON path with a bad index', json({ title: 'names[first]' }), 'fields.title'],
    ['a JSON path with an empty key', json({ title: 'a..b' }), 'fields.title'],
    ['an XML path with a bad name', xml({ title: 'na me' }), 'fields.title'],
    ['an XML attribute not last', xml({ title: '@a/b' }), 'fields.title'],
    ['".." after a name', xml({ title: 'a/../b' }), 'fields.title'],
    ['climbing above the root', xml({ base_id: '../../@code' }, 'root/item'), 'fields'],
    ['an XML records path with an attribute', xml({}, 'root/@item'), 'records'],
    ['price beside min_price', json({ price: 'p', min_price: 'q' }), 'fields.price'],
    ['a negative scale', json({ price: { path: 'p', scale: -1 } }), 'fields.price.scale'],
    ['an unknown epoch unit', json({ starts_at: { path: 's', epoch: 'us' } }), 'fields.starts_at'],
    ['online without equals', json({ online: { path: 'status' } }), 'fields.online.equals'],
  ])('%s is refused, naming where: %j', (_, raw, where) => {
    let thrown: unknown;
    try {
      parseFeedFormat(raw);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(MappingError);
    expect((thrown as MappingError).where).toBe(where);
  });

  it('a sound mapping of either type is kept as written', () => {
    const mapping = xml({ base_id: '../@code', price: { path: 'p/@c', scale: 0.01 } });
    expect(parseFeedFormat(mapping)).toEqual(mapping);
  });
});

describe('condensablePrices', () => {
  // The xs partner's own mapping (packages/fixtures/partners), varied below.
  const xs = PARTNER_EXAMPLES.xs.mapping as { type: string; records: string; fields: object };
  const condensable = (raw: unknown) =>
    condensablePrices(compileMapping(parseFeedFormat(raw) as Mapping));

  it('is the price element when nothing else the mapping reads names it', () => {
    expect(condensable(xs)).toEqual({ element: 'price', attribute: 'cents' });
  });

  it.each([
    [
      'another field reads the element',
      { ...xs, fields: { ...xs.fields, title: 'prices/price/@name' } },
    ],
    [
      'the records are that element',
      { ...xs, records: 'catalogue/show/price', fields: { ...xs.fields, base_id: '../@code' } },
    ],
    [
      'min and max come from different attributes',
      {
        ...xs,
        fields: {
          ...xs.fields,
          price: undefined,
          min_price: 'prices/price/@min',
          max_price: 'prices/price/@max',
        },
      },
    ],
    ['the price is element text', { ...xs, fields: { ...xs.fields, price: 'prices/price' } }],
    [
      'the format is JSON',
      { type: 'json', records: 'a[*]', fields: { ...fields, price: 'p[*].v' } },
    ],
  ])('is none when %s', (_, raw) => {
    expect(condensable(raw)).toBeUndefined();
  });
});
