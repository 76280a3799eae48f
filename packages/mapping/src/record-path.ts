/**
 * The path language of a mapping, one grammar per format:
 *
 * - JSON: keys joined by `.`, `[*]` for every item of an array, `[n]` for one item
 *   (`priceRanges[*].min`, `dates.start.dateTime`).
 * - XML: element names joined by `/`, `@name` for an attribute (last), a bare name for that
 *   element's text, `.` for the record's own text, and leading `../` steps to the enclosing
 *   elements (`../@code`, `prices/price/@cents`).
 *
 * Every step may match several nodes; a path's values are all the leaves it reaches, in
 * document order.
 */
export type PathStep =
  | { kind: 'key'; name: string }
  | { kind: 'each' }
  | { kind: 'index'; at: number }
  | { kind: 'up' }
  | { kind: 'attribute'; name: string }
  | { kind: 'text' };

export type FormatType = 'json' | 'xml';

export class PathSyntaxError extends Error {
  override readonly name = 'PathSyntaxError';
}

const JSON_KEY = /^[^.[\]]+$/;
const JSON_SEGMENT = /^([^.[\]]*)((?:\[(?:\*|\d+)\])*)$/;
const XML_NAME = /^[A-Za-z_][\w.:-]*$/;

/** A field's path, relative to its record. */
export function compileFieldPath(type: FormatType, text: string): PathStep[] {
  return type === 'json' ? compileJsonPath(text) : compileXmlPath(text);
}

/**
 * The records' path from the document's root: JSON keys and `[*]`/`[n]`, or XML element
 * names (the first is the root element).
 */
export function compileRecordsPath(type: FormatType, text: string): PathStep[] {
  if (type === 'json') return compileJsonPath(text);
  const parts = text.split('/');
  if (!parts.every((part) => XML_NAME.test(part))) {
    throw new PathSyntaxError(`"${text}" must be element names joined by "/", from the root`);
  }
  return parts.map((name) => ({ kind: 'key', name }));
}

function compileJsonPath(text: string): PathStep[] {
  if (text.trim() === '') throw new PathSyntaxError('is empty');
  const steps: PathStep[] = [];
  for (const segment of text.split('.')) {
    const m = JSON_SEGMENT.exec(segment);
    if (m === null || (m[1] === '' && m[2] === '')) {
      throw new PathSyntaxError(`"${text}" is not a JSON path (keys joined by ".", [*] or [n])`);
    }
    if (m[1] !== '') {
      if (!JSON_KEY.test(m[1]!)) throw new PathSyntaxError(`"${text}": bad key "${m[1]}"`);
      steps.push({ kind: 'key', name: m[1]! });
    }
    for (const [, index] of m[2]!.matchAll(/\[(\*|\d+)\]/g)) {
      steps.push(index === '*' ? { kind: 'each' } : { kind: 'index', at: Number(index) });
    }
  }
  return steps;
}

function compileXmlPath(text: string): PathStep[] {
  if (text.trim() === '') throw new PathSyntaxError('is empty');
  if (text === '.') return [{ kind: 'text' }];
  const parts = text.split('/');
  const steps: PathStep[] = [];
  let down = false;
  parts.forEach((part, i) => {
    const last = i === parts.length - 1;
    if (part === '..') {
      if (down) throw new PathSyntaxError(`"${text}": ".." may only lead the path`);
      steps.push({ kind: 'up' });
    } else if (part.startsWith('@')) {
      if (!last || !XML_NAME.test(part.slice(1))) {
        throw new PathSyntaxError(`"${text}": an @attribute must be a name, and last`);
      }
      steps.push({ kind: 'attribute', name: part.slice(1) });
    } else if (XML_NAME.test(part)) {
      down = true;
      steps.push({ kind: 'key', name: part });
    } else {
      throw new PathSyntaxError(
        `"${text}" is not an XML path (names joined by "/", @attribute, ../)`,
      );
    }
  });
  const end = steps.at(-1);
  if (end?.kind === 'up') steps.push({ kind: 'text' });
  else if (end?.kind === 'key') steps.push({ kind: 'text' });
  return steps;
}

/** How many levels above its record a field reaches (`../../x` is 2). */
export function levelsUp(steps: readonly PathStep[]): number {
  let n = 0;
  while (steps[n]?.kind === 'up') n++;
  return n;
}
