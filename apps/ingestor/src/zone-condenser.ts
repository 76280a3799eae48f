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
/** Which elements are condensed, and by which attribute's value. */
export type RunCondenser = (xml: string) => string;

/**
 * The condenser for runs of `<element …/>` by the numeric value of `attribute` (read as a
 * price). The built-in path condenses zones by price; a mapped XML feed whose price is
 * `…/<element>/@<attribute>`, and whose mapping reads that element nowhere else, its price
 * elements (see condensablePrices in @tessera/mapping).
 */
export function createRunCondenser(element: string, attribute: string): RunCondenser {
  const open = `<${element}`;
  const tag = new RegExp(
    `${escapeRegExp(open)}(?:\\s+[A-Za-z_:][-\\w.:]*\\s*=\\s*"[^"<&]*")*\\s*/>`,
    'y',
  );
  const value = new RegExp(`(?:[^">]|"[^"]*")*?\\s${escapeRegExp(attribute)}\\s*=\\s*"`, 'y');
  return (xml) => condenseRuns(xml, { open, tag, value, attribute });
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Zones, by price: the built-in path's. */
export const condenseZones: RunCondenser = createRunCondenser(ZONE_ELEMENT, 'price');

interface RunPattern {
  open: string;
  /** A whole, plain empty element (sticky). */
  tag: RegExp;
  /**
   * The tag's first such attribute, up to its value's opening quote, read from the tag's start
   * without a substring per element. It steps over quoted values whole and cannot pass the tag's
   * closing `>`, so an element without the attribute costs its own length: searched on through
   * the text, every such element would scan to the next value in the chunk, quadratic in a run
   * of them. Matched with `test` and read with `indexOf`: an `exec` per element made a match
   * array per zone, most of the workers' garbage.
   */
  value: RegExp;
  attribute: string;
}

const WHITESPACE = /\s*/y;

function condenseRuns(xml: string, { open, tag, value, attribute }: RunPattern): string {
  let out = '';
  let copied = 0;
  let at = xml.indexOf(open, 0);
  let opaque = nextOpaque(xml, 0);
  while (at !== -1) {
    if (opaque !== -1 && opaque < at) {
      const end = endOfOpaque(xml, opaque);
      // The rest is inside a stretch that never ends: sax refuses it as it is.
      if (end === -1) break;
      opaque = nextOpaque(xml, end);
      if (at < end) at = xml.indexOf(open, end);
      continue;
    }
    // A run of condensable elements starting here, separated only by whitespace.
    let end = at;
    let count = 0;
    let minText = '';
    let maxText = '';
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (;;) {
      tag.lastIndex = end;
      if (!tag.test(xml)) break;
      value.lastIndex = end;
      // The tag matched whole, so its value's closing quote is there.
      const text = value.test(xml)
        ? xml.slice(value.lastIndex, xml.indexOf('"', value.lastIndex))
        : undefined;
      const price = text === undefined ? undefined : parsePrice(text);
      if (price === undefined) break;
      if (price < min) {
        min = price;
        minText = text!;
      }
      if (price > max) {
        max = price;
        maxText = text!;
      }
      count++;
      end = tag.lastIndex;
      WHITESPACE.lastIndex = end;
      WHITESPACE.test(xml);
      if (!xml.startsWith(open, WHITESPACE.lastIndex)) break;
      end = WHITESPACE.lastIndex;
    }
    if (count > 2) {
      out += `${xml.slice(copied, at)}${open} ${attribute}="${minText}"/>${open} ${attribute}="${maxText}"/>`;
      copied = end;
    }
    // Resume after the run, or just past this element when nothing was condensed.
    at = xml.indexOf(open, Math.max(end, at + open.length));
  }
  return copied === 0 ? xml : out + xml.slice(copied);
}
