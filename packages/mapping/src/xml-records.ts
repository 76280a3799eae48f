import sax from 'sax';
import { DocumentError } from './document-error.js';
import type { CompiledMapping } from './feed-format.js';
import { type MapContext, mapRecord, type ValuesAt } from './record-mapper.js';
import { emptyReading, type RecordStream, type StreamLimits } from './record-stream.js';

/** An element as the mapping reads it: attributes as written, text trimmed when read. */
export interface XmlNode {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: XmlNode[];
  text: string;
  readonly parent: XmlNode | undefined;
}

/**
 * XML records with sax (strict; the five predefined entities only, a DOCTYPE refused, as the
 * built-in path). The element `levelsUp` above the records (the record itself when no field
 * climbs) is kept whole while it is open and its records are read when it closes: `../name`
 * may come after the records it names. Everything outside such elements is only counted.
 */
export function createXmlRecordStream(
  mapping: CompiledMapping,
  ctx: MapContext,
  limits: StreamLimits,
): RecordStream {
  const names = mapping.records.map((step) => (step.kind === 'key' ? step.name : ''));
  const unitDepth = names.length - mapping.levelsUp;
  // strictEntities is a sax option its type definitions do not list.
  const parser = sax.parser(true, { strictEntities: true, position: false } as sax.SAXOptions);
  let reading = emptyReading();
  let depth = 0;
  /** How deep the open elements follow the records' path from the root. */
  let onPath = 0;
  let unit: XmlNode | undefined;
  let current: XmlNode | undefined;
  let unitChars = 0;
  let failure: Error | undefined;
  let sawRoot = false;

  const grow = (chars: number): void => {
    unitChars += chars;
    if (unitChars > limits.maxRecordChars) {
      throw new DocumentError(
        'malformed',
        `a <${unit?.name}> exceeds ${limits.maxRecordChars} characters (MAX_ELEMENT_BYTES)`,
      );
    }
  };
  parser.onopentag = (tag) => {
    depth++;
    if (depth > limits.maxDepth) {
      throw new DocumentError('malformed', `elements nested deeper than ${limits.maxDepth}`);
    }
    const attributes = tag.attributes as Record<string, string>;
    if (current !== undefined) {
      const child: XmlNode = {
        name: tag.name,
        attributes,
        children: [],
        text: '',
        parent: current,
      };
      current.children.push(child);
      current = child;
      grow(tag.name.length + 2);
      return;
    }
    sawRoot = true;
    if (depth === 1 && tag.name !== names[0]) {
      throw new DocumentError('mismatch', `the root element is <${tag.name}>, not <${names[0]}>`);
    }
    if (onPath === depth - 1 && depth <= unitDepth && tag.name === names[depth - 1]) onPath = depth;
    if (onPath === unitDepth && depth === unitDepth) {
      unit = { name: tag.name, attributes, children: [], text: '', parent: undefined };
      current = unit;
      unitChars = 0;
    }
  };
  parser.onclosetag = () => {
    if (current !== undefined) {
      if (current === unit) {
        readRecords(unit, names.slice(unitDepth), mapping, ctx, reading);
        unit = undefined;
      }
      current = current.parent;
    }
    if (onPath === depth) onPath--;
    depth--;
  };
  const onText = (text: string): void => {
    if (current === undefined) return;
    current.text += text;
    grow(text.length);
  };
  parser.ontext = onText;
  parser.oncdata = onText;
  parser.ondoctype = () => {
    throw new DocumentError('malformed', 'DOCTYPE declarations are not accepted');
  };
  parser.onerror = (error) => {
    failure = error;
    throw error;
  };
  const run = (step: () => void): void => {
    try {
      step();
    } catch (error) {
      if (error instanceof DocumentError) throw error;
      const cause = failure ?? error;
      const message = (cause instanceof Error ? cause.message : String(cause)).split('\n')[0];
      throw new DocumentError('malformed', `not well-formed XML: ${message}`, { cause });
    }
  };
  return {
    write(text) {
      run(() => parser.write(text));
    },
    end() {
      run(() => parser.close());
      if (depth !== 0)
        throw new DocumentError('malformed', 'not well-formed XML: unclosed elements');
      if (!sawRoot) {
        throw new DocumentError('mismatch', `no <${names[0]}> root element`);
      }
    },
    take() {
      const done = reading;
      reading = emptyReading();
      return done;
    },
  };
}

/** Maps every record below the kept element (`rest` is the path from it down to them). */
function readRecords(
  unit: XmlNode,
  rest: readonly string[],
  mapping: CompiledMapping,
  ctx: MapContext,
  reading: ReturnType<typeof emptyReading>,
): void {
  let nodes = [unit];
  for (const name of rest) nodes = nodes.flatMap((n) => n.children.filter((c) => c.name === name));
  for (const record of nodes) mapRecord(mapping, xmlValuesAt(record), ctx, reading);
}

export function xmlValuesAt(record: XmlNode): ValuesAt {
  return (steps) => {
    let nodes: XmlNode[] = [record];
    for (const step of steps) {
      if (step.kind === 'up') {
        nodes = nodes.flatMap((n) => (n.parent === undefined ? [] : [n.parent]));
      } else if (step.kind === 'key') {
        nodes = nodes.flatMap((n) => n.children.filter((c) => c.name === step.name));
      } else if (step.kind === 'attribute') {
        return nodes.flatMap((n) =>
          Object.hasOwn(n.attributes, step.name) ? [n.attributes[step.name]] : [],
        );
      } else if (step.kind === 'text') {
        return nodes.map((n) => n.text.trim()).filter((text) => text !== '');
      }
    }
    return [];
  };
}
