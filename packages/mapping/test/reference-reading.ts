import { eventIdFor } from '@tessera/core';
import sax from 'sax';

/**
 * An independent reading of a mapped document, for the corpus tests: the whole document parsed
 * at once (JSON.parse, or sax into a plain tree), then each rule of docs/partners.md applied by
 * straightforward code, with Temporal as the reference for datetimes. It shares no code with
 * the streaming readers or the mapper.
 */
export interface Expected {
  records: Array<{ id: string; startsAt: number; endsAt: number; summary: string }>;
  rejected: Array<[code: string, field: string, eventId: string | null]>;
  offline: number;
}

export interface ReferenceMapping {
  type: 'json' | 'xml';
  records: string;
  fields: Record<
    string,
    string | { path: string; equals?: unknown; scale?: number; epoch?: 's' | 'ms' }
  >;
}

interface Tree {
  name: string;
  attrs: Record<string, string>;
  kids: Tree[];
  text: string;
  up?: Tree;
}

export function referenceReading(
  m: ReferenceMapping,
  text: string,
  provider: string,
  zone: string,
): Expected {
  const records =
    m.type === 'json' ? jsonRecords(JSON.parse(text), m.records) : xmlRecords(text, m.records);
  const at = (record: unknown, spec: ReferenceMapping['fields'][string] | undefined): unknown[] => {
    if (spec === undefined) return [];
    const path = typeof spec === 'string' ? spec : spec.path;
    return m.type === 'json' ? jsonAt(record, path) : xmlAt(record as Tree, path);
  };
  const out: Expected = { records: [], rejected: [], offline: 0 };
  for (const record of records) {
    const f = m.fields;
    const online = f.online as { path: string; equals: unknown } | undefined;
    if (online && !at(record, online).some((v) => String(v) === String(online.equals))) {
      out.offline++;
      continue;
    }
    const eventId = id(at(record, f.event_id));
    const baseId = f.base_id === undefined ? eventId : id(at(record, f.base_id));
    const fault = (code: string, field: string) =>
      out.rejected.push([code, field, typeof eventId === 'string' ? eventId : null]);
    if (typeof eventId !== 'string') {
      fault(eventId.code, 'event_id');
      continue;
    }
    if (typeof baseId !== 'string') {
      fault(baseId.code, 'base_id');
      continue;
    }
    const titles = at(record, f.title);
    if (titles.length === 0) {
      fault('missing_attribute', 'title');
      continue;
    }
    if (titles.length > 1 || (typeof titles[0] !== 'string' && typeof titles[0] !== 'number')) {
      fault('invalid_value', 'title');
      continue;
    }
    const title = String(titles[0]);
    if (title.length > 1024) {
      fault('attribute_too_long', 'title');
      continue;
    }
    const start = when(at(record, f.starts_at), f.starts_at!, zone);
    if (typeof start === 'string') {
      fault(start, 'starts_at');
      continue;
    }
    const end = when(at(record, f.ends_at), f.ends_at!, zone);
    if (typeof end === 'string') {
      fault(end, 'ends_at');
      continue;
    }
    if (end.ms < start.ms) {
      fault('end_before_start', 'ends_at');
      continue;
    }
    const [minSpec, maxSpec] = f.price ? [f.price, f.price] : [f.min_price, f.max_price];
    const min = price(at(record, minSpec), minSpec, Math.min);
    if (min === 'bad') {
      fault('invalid_price', 'min_price');
      continue;
    }
    const max = price(at(record, maxSpec), maxSpec, Math.max);
    if (max === 'bad') {
      fault('invalid_price', 'max_price');
      continue;
    }
    const uuid = eventIdFor(provider, baseId, eventId);
    out.records.push({
      id: uuid,
      startsAt: start.ms,
      endsAt: end.ms,
      summary: JSON.stringify({
        id: uuid,
        title,
        start_date: start.date,
        start_time: start.time,
        end_date: end.date,
        end_time: end.time,
        min_price: min,
        max_price: max,
      }),
    });
  }
  return out;
}

function id(values: unknown[]): string | { code: string } {
  if (values.length === 0) return { code: 'missing_attribute' };
  if (values.length > 1) return { code: 'invalid_value' };
  const v = values[0];
  const text = typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? String(v) : v;
  return typeof text === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(text)
    ? text
    : { code: 'invalid_id' };
}

function when(
  values: unknown[],
  spec: ReferenceMapping['fields'][string],
  zone: string,
): { ms: number; date: string; time: string } | string {
  if (values.length === 0) return 'missing_attribute';
  if (values.length > 1) return 'invalid_value';
  const v = values[0];
  const shown = (instant: Temporal.Instant) => {
    const z = instant.toZonedDateTimeISO(zone);
    return {
      ms: Number(instant.epochMilliseconds),
      date: z.toPlainDate().toString(),
      time: z.toPlainTime().toString({ smallestUnit: 'second' }),
    };
  };
  const epoch = typeof spec === 'string' ? undefined : spec.epoch;
  try {
    if (epoch !== undefined) {
      const n =
        typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : NaN;
      const ms = Math.floor((epoch === 's' ? n * 1000 : n) / 1000) * 1000;
      return shown(Temporal.Instant.fromEpochMilliseconds(ms));
    }
    if (typeof v !== 'string') return 'invalid_datetime';
    if (/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|[+-]\d\d:?\d\d)$/.test(v)) {
      const whole = Temporal.Instant.from(v).round({
        smallestUnit: 'second',
        roundingMode: 'floor',
      });
      return shown(whole);
    }
    if (/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?$/.test(v)) {
      const wall = Temporal.PlainDateTime.from(v, { overflow: 'reject' });
      const ms = Number(
        wall.toZonedDateTime(zone, { disambiguation: 'compatible' }).epochMilliseconds,
      );
      return {
        ms,
        date: wall.toPlainDate().toString(),
        time: wall.toPlainTime().toString({ smallestUnit: 'second' }),
      };
    }
  } catch {
    return 'invalid_datetime';
  }
  return 'invalid_datetime';
}

function price(
  values: unknown[],
  spec: ReferenceMapping['fields'][string] | undefined,
  pick: (a: number, b: number) => number,
): number | null | 'bad' {
  if (spec === undefined) return null;
  const scale = typeof spec === 'string' ? 1 : (spec.scale ?? 1);
  let found: number | null = null;
  for (const v of values) {
    const n =
      typeof v === 'number'
        ? v
        : typeof v === 'string' && /^\d{1,15}(\.\d{1,6})?$/.test(v)
          ? Number(v)
          : NaN;
    if (!(n >= 0 && n <= 1e15)) return 'bad';
    const scaled = Math.round(n * scale * 1e6) / 1e6;
    found = found === null ? scaled : pick(found, scaled);
  }
  return found;
}

function jsonRecords(doc: unknown, path: string): unknown[] {
  return jsonAt(doc, path, true);
}

/** `a.b[*].c` by hand: split on dots, peel [*] and [n]. */
function jsonAt(node: unknown, path: string, keepNull = false): unknown[] {
  let nodes = [node];
  for (const segment of path.split('.')) {
    const key = segment.replace(/\[.*$/, '');
    if (key !== '') {
      nodes = nodes.flatMap((n) =>
        n !== null && typeof n === 'object' && !Array.isArray(n) && key in n
          ? [(n as Record<string, unknown>)[key]]
          : [],
      );
    }
    for (const [, index] of segment.matchAll(/\[(\*|\d+)\]/g)) {
      nodes = nodes.flatMap((n) =>
        !Array.isArray(n)
          ? []
          : index === '*'
            ? n
            : Number(index) < n.length
              ? [n[Number(index)]]
              : [],
      );
    }
  }
  return keepNull ? nodes : nodes.filter((n) => n !== null && n !== undefined);
}

function xmlRecords(text: string, path: string): Tree[] {
  const parser = sax.parser(true, { strictEntities: true } as sax.SAXOptions);
  const root: Tree = { name: '#document', attrs: {}, kids: [], text: '' };
  let current = root;
  parser.onopentag = (t) => {
    const node: Tree = {
      name: t.name,
      attrs: t.attributes as Record<string, string>,
      kids: [],
      text: '',
      up: current,
    };
    current.kids.push(node);
    current = node;
  };
  parser.onclosetag = () => {
    current = current.up!;
  };
  parser.ontext = (t) => {
    current.text += t;
  };
  parser.oncdata = (t) => {
    current.text += t;
  };
  parser.write(text).close();
  let nodes = [root];
  for (const name of path.split('/'))
    nodes = nodes.flatMap((n) => n.kids.filter((k) => k.name === name));
  return nodes;
}

function xmlAt(record: Tree, path: string): unknown[] {
  if (path === '.') return [record.text.trim()].filter((t) => t !== '');
  let nodes = [record];
  for (const part of path.split('/')) {
    if (part === '..') nodes = nodes.map((n) => n.up!);
    else if (part.startsWith('@'))
      return nodes.map((n) => n.attrs[part.slice(1)]).filter((v) => v !== undefined);
    else nodes = nodes.flatMap((n) => n.kids.filter((k) => k.name === part));
  }
  return nodes.map((n) => n.text.trim()).filter((t) => t !== '');
}
