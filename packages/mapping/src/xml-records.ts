import { emptyReading, type FeedReading } from '@tessera/core';
import sax from 'sax';
import { DocumentError } from './document-error.js';
import type { CompiledMapping } from './feed-format.js';
import { type MapContext, mapRecord, type ValuesAt } from './record-mapper.js';
import type { PathStep } from './record-path.js';
import type { RecordStream, StreamLimits } from './record-stream.js';

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
  const units = new UnitBuilder(names, names.length - mapping.levelsUp, limits);
  const below = names.slice(units.unitDepth);
  // strictEntities is a sax option its type definitions do not list.
  const parser = sax.parser(true, { strictEntities: true, position: false } as sax.SAXOptions);
  let reading = emptyReading();
  let failure: Error | undefined;
  parser.onopentag = (tag) => units.open(tag.name, tag.attributes as Record<string, string>);
  parser.onclosetag = () => {
    const unit = units.close();
    if (unit !== undefined) readRecords(unit, below, mapping, ctx, reading);
  };
  parser.ontext = (text) => units.text(text);
  parser.oncdata = (text) => units.text(text);
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
      units.checkEnd();
    },
    take() {
      const done = reading;
      reading = emptyReading();
      return done;
    },
  };
}

/**
 * Follows the open elements along the records' path and builds each unit element (at
 * `unitDepth`, from the root) whole, handing it over when it closes.
 */
class UnitBuilder {
  private depth = 0;
  /** How deep the open elements follow the records' path from the root. */
  private onPath = 0;
  private unit: XmlNode | undefined;
  private current: XmlNode | undefined;
  private unitChars = 0;
  private sawRoot = false;

  constructor(
    private readonly names: readonly string[],
    readonly unitDepth: number,
    private readonly limits: StreamLimits,
  ) {}

  open(name: string, attributes: Record<string, string>): void {
    this.depth++;
    if (this.depth > this.limits.maxDepth) {
      throw new DocumentError('malformed', `elements nested deeper than ${this.limits.maxDepth}`);
    }
    if (this.current !== undefined) {
      const child: XmlNode = { name, attributes, children: [], text: '', parent: this.current };
      this.current.children.push(child);
      this.current = child;
      this.grow(name.length + 2);
      return;
    }
    this.sawRoot = true;
    const { depth, names } = this;
    if (depth === 1 && name !== names[0]) {
      throw new DocumentError('mismatch', `the root element is <${name}>, not <${names[0]}>`);
    }
    if (this.onPath === depth - 1 && depth <= this.unitDepth && name === names[depth - 1]) {
      this.onPath = depth;
    }
    if (this.onPath === this.unitDepth && depth === this.unitDepth) {
      this.unit = { name, attributes, children: [], text: '', parent: undefined };
      this.current = this.unit;
      this.unitChars = 0;
    }
  }

  /** Closes the innermost element; returns the unit when it was the one closing. */
  close(): XmlNode | undefined {
    let done: XmlNode | undefined;
    if (this.current !== undefined) {
      if (this.current === this.unit) {
        done = this.unit;
        this.unit = undefined;
      }
      this.current = this.current.parent;
    }
    if (this.onPath === this.depth) this.onPath--;
    this.depth--;
    return done;
  }

  text(text: string): void {
    if (this.current === undefined) return;
    this.current.text += text;
    this.grow(text.length);
  }

  checkEnd(): void {
    if (this.depth !== 0) {
      throw new DocumentError('malformed', 'not well-formed XML: unclosed elements');
    }
    if (!this.sawRoot) throw new DocumentError('mismatch', `no <${this.names[0]}> root element`);
  }

  private grow(chars: number): void {
    this.unitChars += chars;
    if (this.unitChars > this.limits.maxRecordChars) {
      throw new DocumentError(
        'malformed',
        `a <${this.unit?.name}> exceeds ${this.limits.maxRecordChars} characters (MAX_ELEMENT_BYTES)`,
      );
    }
  }
}

/** Maps every record below the kept element (`rest` is the path from it down to them). */
function readRecords(
  unit: XmlNode,
  rest: readonly string[],
  mapping: CompiledMapping,
  ctx: MapContext,
  reading: FeedReading,
): void {
  let nodes = [unit];
  for (const name of rest) nodes = nodes.flatMap((n) => n.children.filter((c) => c.name === name));
  for (const record of nodes) mapRecord(mapping, xmlValuesAt(record), ctx, reading);
}

export function xmlValuesAt(record: XmlNode): ValuesAt {
  return (steps) => {
    // `../` steps only lead a path.
    let node: XmlNode | undefined = record;
    let i = 0;
    for (; steps[i]?.kind === 'up'; i++) {
      node = node.parent;
      if (node === undefined) return [];
    }
    const values: string[] = [];
    collectValues(node, steps, i, values);
    return values;
  };
}

/** The values below `node` along `steps` from `i`, in document order (loops, not lists per step: this runs for every field of every record). */
function collectValues(node: XmlNode, steps: readonly PathStep[], i: number, into: string[]): void {
  const step = steps[i];
  if (step === undefined) return;
  if (step.kind === 'key') {
    for (const child of node.children) {
      if (child.name === step.name) collectValues(child, steps, i + 1, into);
    }
  } else if (step.kind === 'attribute') {
    if (Object.hasOwn(node.attributes, step.name)) into.push(node.attributes[step.name]!);
  } else if (step.kind === 'text') {
    const text = node.text.trim();
    if (text !== '') into.push(text);
  }
}
