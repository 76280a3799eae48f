import { emptyReading, type FeedReading } from '@tessera/core';
import { DocumentError } from './document-error.js';
import type { CompiledMapping } from './feed-format.js';
import { jsonValuesAt } from './json-records.js';
import { type MapContext, mapRecord } from './record-mapper.js';
import type { StreamLimits } from './record-stream.js';
import { createXmlRecordStream } from './xml-records.js';

/**
 * How a mapped document can be cut into chunks of whole records that threads read side by side,
 * as the built-in path cuts its feed:
 * - `json`: the records are the items of one array reached by keys alone (`a.b[*]`, or `[*]`
 *   for a document that is an array); a chunk is some of its items, with the commas between.
 * - `xml`: a chunk is a run of whole `unit` elements (the record, or the element the mapping's
 *   `../` reaches up to), which sit inside the elements `above`.
 * Anything else (`a[*].b[*]`, an index) is read as one stream (see record-stream.ts).
 */
export type ChunkPlan =
  | { type: 'json'; keys: string[] }
  | { type: 'xml'; unit: string; above: string[] }
  | undefined;

export function chunkPlan(mapping: CompiledMapping): ChunkPlan {
  const steps = mapping.records;
  if (mapping.type === 'xml') {
    const names = steps.map((s) => (s.kind === 'key' ? s.name : ''));
    const unitDepth = names.length - mapping.levelsUp;
    return { type: 'xml', unit: names[unitDepth - 1]!, above: names.slice(0, unitDepth - 1) };
  }
  const keys = steps.slice(0, -1);
  if (steps.at(-1)?.kind !== 'each' || !keys.every((s) => s.kind === 'key')) return undefined;
  return { type: 'json', keys: keys.map((s) => (s.kind === 'key' ? s.name : '')) };
}

/** The synthetic root a chunk of XML units is read in: not a name a partner's element can clash with. */
const CHUNK_ROOT = 'tessera.chunk';

/**
 * Reads one chunk cut as `chunkPlan` says, given whole or as consecutive pieces cut at records'
 * ends (each read before the next is taken; a JSON piece after the first begins with the comma
 * between it and the one before). Throws a DocumentError for a chunk that is not well-formed: the whole
 * document then fails.
 */
export function readRecordChunk(
  mapping: CompiledMapping,
  text: string | Iterable<string>,
  ctx: MapContext,
  limits: StreamLimits,
): FeedReading {
  if (mapping.type === 'json') {
    const reading = emptyReading();
    let first = true;
    for (const piece of typeof text === 'string' ? [text] : text) {
      // A piece after the first begins with the comma before its first record.
      const items = first ? piece : piece.slice(piece.indexOf(',') + 1);
      first = false;
      for (const record of parseItems(items)) {
        mapRecord(mapping, jsonValuesAt(record), ctx, reading);
      }
    }
    return reading;
  }
  // The units' element and the records below it, under a root of the chunk's own.
  const names = mapping.records.map((s) => (s.kind === 'key' ? s.name : ''));
  const below = names.slice(names.length - mapping.levelsUp - 1);
  const chunkMapping: CompiledMapping = {
    ...mapping,
    records: [CHUNK_ROOT, ...below].map((name) => ({ kind: 'key', name })),
  };
  const stream = createXmlRecordStream(chunkMapping, ctx, limits);
  stream.write(`<${CHUNK_ROOT}>`);
  if (typeof text === 'string') stream.write(text);
  else for (const piece of text) stream.write(piece);
  stream.write(`</${CHUNK_ROOT}>`);
  stream.end();
  return stream.take();
}

/**
 * The element whose runs a reader may condense to their lowest and highest value before sax
 * reads them, as the built-in path condenses zones: the mapping's price (or min and max price)
 * is one path ending in `<element>/@<attribute>`, and nothing else the mapping reads names that
 * element, so that the two values kept are the only ones any path could see the difference of.
 */
export function condensablePrices(
  mapping: CompiledMapping,
): { element: string; attribute: string } | undefined {
  if (mapping.type !== 'xml' || mapping.minPrice === undefined || mapping.maxPrice === undefined) {
    return undefined;
  }
  const steps = mapping.minPrice.steps;
  if (JSON.stringify(steps) !== JSON.stringify(mapping.maxPrice.steps)) return undefined;
  const [element, attribute] = steps.slice(-2);
  if (element?.kind !== 'key' || attribute?.kind !== 'attribute') return undefined;
  const others = [
    mapping.records,
    mapping.eventId.steps,
    mapping.baseId?.steps ?? [],
    mapping.title.steps,
    mapping.online?.steps ?? [],
    mapping.startsAt.steps,
    mapping.endsAt.steps,
    steps.slice(0, -2),
  ];
  const named = others.some((path) =>
    path.some((s) => s.kind === 'key' && s.name === element.name),
  );
  return named ? undefined : { element: element.name, attribute: attribute.name };
}

/** A JSON chunk's records: the array's items, with the commas between. */
function parseItems(items: string): unknown[] {
  try {
    return JSON.parse(`[${items}]`) as unknown[];
  } catch (cause) {
    throw new DocumentError('malformed', `not well-formed JSON: ${(cause as Error).message}`, {
      cause,
    });
  }
}
