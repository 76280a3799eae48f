import { parsePrice, ZONE_ELEMENT } from '@tessera/core';
import { endOfOpaque, nextOpaque } from './opaque-markup.js';

/**
 * Zones are most of a feed's bytes (hundreds per event) and sax reads about 30 MB/s per core,
 * so before sax sees a chunk, each run of plain zone elements is condensed to the two zones that
 * carry its lowest and highest price. The feed reader folds zones into min/max anyway, so the
 * result is the same; the chunk sax reads is a fraction of the size.
 *
 * Only zones that are unmistakably well-formed are condensed: an empty element `<zone …/>` whose
 * attribute values are double-quoted and contain no `<` or `&`, with a valid price. Anything else
 * (an entity, single quotes, a child, a bad or missing price, a malformed tag) stays in place for
 * sax to read or refuse, exactly as without this step. Zones spelled inside comments, CDATA
 * sections and processing instructions are text and are left alone.
 */
const OPEN = `<${ZONE_ELEMENT}`;
const ZONE_TAG = new RegExp(`${OPEN}(?:\\s+[A-Za-z_:][-\\w.:]*\\s*=\\s*"[^"<&]*")*\\s*/>`, 'y');
/**
 * The tag's first price attribute, read from the tag's start without a substring per zone. It
 * steps over quoted values whole and cannot pass the tag's closing `>`, so a zone without a
 * price costs its own length: searched on through the text, every price-less zone would scan to
 * the next price in the chunk, quadratic in a run of them.
 */
const PRICE = /(?:[^">]|"[^"]*")*?\sprice\s*=\s*"([^"]*)"/y;
const WHITESPACE = /\s*/y;

export function condenseZones(xml: string): string {
  let out = '';
  let copied = 0;
  let at = xml.indexOf(OPEN, 0);
  let opaque = nextOpaque(xml, 0);
  while (at !== -1) {
    if (opaque !== -1 && opaque < at) {
      const end = endOfOpaque(xml, opaque);
      // The rest is inside a stretch that never ends: sax refuses it as it is.
      if (end === -1) break;
      opaque = nextOpaque(xml, end);
      if (at < end) at = xml.indexOf(OPEN, end);
      continue;
    }
    // A run of condensable zones starting here, separated only by whitespace.
    let end = at;
    let count = 0;
    let minText = '';
    let maxText = '';
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (;;) {
      ZONE_TAG.lastIndex = end;
      if (ZONE_TAG.exec(xml) === null) break;
      PRICE.lastIndex = end;
      const priceText = PRICE.exec(xml)?.[1];
      const price = priceText === undefined ? undefined : parsePrice(priceText);
      if (price === undefined) break;
      if (price < min) {
        min = price;
        minText = priceText!;
      }
      if (price > max) {
        max = price;
        maxText = priceText!;
      }
      count++;
      end = ZONE_TAG.lastIndex;
      WHITESPACE.lastIndex = end;
      WHITESPACE.exec(xml);
      if (!xml.startsWith(OPEN, WHITESPACE.lastIndex)) break;
      end = WHITESPACE.lastIndex;
    }
    if (count > 2) {
      out += `${xml.slice(copied, at)}${OPEN} price="${minText}"/>${OPEN} price="${maxText}"/>`;
      copied = end;
    }
    // Resume after the run, or just past this `<zone` when nothing was condensed.
    at = xml.indexOf(OPEN, Math.max(end, at + OPEN.length));
  }
  return copied === 0 ? xml : out + xml.slice(copied);
}
