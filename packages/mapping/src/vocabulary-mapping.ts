import { OUTPUT_ELEMENT, type Vocabulary, ZONE_ELEMENT } from '@tessera/core';
import type { Mapping } from './feed-format.js';

/**
 * One of the partner API's own vocabularies (core's table) written as a mapping. This mapping is
 * what a contract test holds the built-in path to, over the fixtures and generated feeds, so
 * that the two readings of "an event" cannot drift apart. (Read through it, a feed now costs the
 * workers what the built-in path costs: docs/partners.md.)
 */
export function vocabularyMapping(v: Vocabulary): Mapping {
  return {
    type: 'xml',
    records: `${v.root}/${OUTPUT_ELEMENT}/${v.base}/${v.item}`,
    fields: {
      base_id: `../@${v.baseId}`,
      event_id: `@${v.itemId}`,
      title: '../@title',
      online: { path: '../@sell_mode', equals: 'online' },
      starts_at: `@${v.itemStart}`,
      ends_at: `@${v.itemEnd}`,
      price: `${ZONE_ELEMENT}/@price`,
    },
  };
}
