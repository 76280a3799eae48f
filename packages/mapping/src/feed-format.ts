import { z } from 'zod';
import {
  compileFieldPath,
  compileRecordsPath,
  type FormatType,
  levelsUp,
  type PathStep,
  PathSyntaxError,
} from './record-path.js';

const path = z.string().min(1, 'the path is empty');
const plainField = z.union([path, z.strictObject({ path })]);
const datetimeField = z.union([
  path,
  z.strictObject({ path, epoch: z.enum(['s', 'ms']).optional() }),
]);
const priceField = z.union([
  path,
  z.strictObject({ path, scale: z.number().positive().max(1e6).optional() }),
]);
const onlineField = z.strictObject({
  path,
  equals: z.union([z.string(), z.number(), z.boolean()]),
});

/**
 * What each field of an event is read from. `event_id`, `title`, `starts_at` and `ends_at` are
 * required; `base_id` absent makes each event its own base; `online` absent makes every record
 * on sale; `price` gives both ends of the range, `min_price`/`max_price` one each.
 */
const FieldsSchema = z.strictObject({
  event_id: plainField,
  base_id: plainField.optional(),
  title: plainField,
  online: onlineField.optional(),
  starts_at: datetimeField,
  ends_at: datetimeField,
  min_price: priceField.optional(),
  max_price: priceField.optional(),
  price: priceField.optional(),
});

/** A partner's own format, as a feed's `format` in FEEDS. */
export const MappingSchema = z.strictObject({
  type: z.enum(['json', 'xml']),
  /** Where the records are, from the document's root. */
  records: path,
  fields: FieldsSchema,
});
export type Mapping = z.infer<typeof MappingSchema>;
export type FieldName = keyof Mapping['fields'];

/** `fever` (or absent): the partner API's own XML in either vocabulary, read by the built-in path. */
export const BUILT_IN_FORMAT = 'fever';
export type FeedFormat = typeof BUILT_IN_FORMAT | Mapping;

export interface FieldRule {
  readonly steps: PathStep[];
}
export interface DatetimeRule extends FieldRule {
  readonly epoch: 's' | 'ms' | undefined;
}
export interface PriceRule extends FieldRule {
  readonly scale: number;
}
export interface OnlineRule extends FieldRule {
  readonly equals: string | number | boolean;
}

/** A mapping with its paths compiled, ready to read records. */
export interface CompiledMapping {
  readonly type: FormatType;
  readonly records: PathStep[];
  /** How far above a record its fields reach: the XML reader keeps that enclosing element. */
  readonly levelsUp: number;
  readonly eventId: FieldRule;
  readonly baseId: FieldRule | undefined;
  readonly title: FieldRule;
  readonly online: OnlineRule | undefined;
  readonly startsAt: DatetimeRule;
  readonly endsAt: DatetimeRule;
  readonly minPrice: PriceRule | undefined;
  readonly maxPrice: PriceRule | undefined;
}

export class MappingError extends Error {
  override readonly name = 'MappingError';
  /** Where in the mapping: `fields.base_id`, `records`, … */
  constructor(
    readonly where: string,
    message: string,
  ) {
    super(`${where}: ${message}`);
  }
}

/**
 * Checks a feed's `format` as written and compiles it: the built-in format, or a mapping whose
 * every path parses for its type. Throws a MappingError naming the first fault's place.
 */
export function parseFeedFormat(raw: unknown): FeedFormat {
  if (raw === undefined || raw === BUILT_IN_FORMAT) return BUILT_IN_FORMAT;
  if (typeof raw === 'string') {
    throw new MappingError('format', `"${raw}" is not a format: "fever" or a mapping object`);
  }
  const parsed = MappingSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new MappingError(issue?.path.join('.') || 'format', issue?.message ?? 'invalid');
  }
  compileMapping(parsed.data);
  return parsed.data;
}

export function compileMapping(mapping: Mapping): CompiledMapping {
  const { type, fields } = mapping;
  const at = <T>(where: string, compile: () => T): T => {
    try {
      return compile();
    } catch (error) {
      if (error instanceof PathSyntaxError) throw new MappingError(where, error.message);
      throw error;
    }
  };
  const rule = (name: FieldName, spec: string | { path: string }): PathStep[] => {
    const text = typeof spec === 'string' ? spec : spec.path;
    const steps = at(`fields.${name}`, () => compileFieldPath(type, text));
    if (
      type === 'json' &&
      steps.some((s) => s.kind !== 'key' && s.kind !== 'each' && s.kind !== 'index')
    ) {
      throw new MappingError(`fields.${name}`, `"${text}" is not a JSON path`);
    }
    return steps;
  };
  const datetime = (name: 'starts_at' | 'ends_at'): DatetimeRule => {
    const spec = fields[name];
    return { steps: rule(name, spec), epoch: typeof spec === 'string' ? undefined : spec.epoch };
  };
  const price = (name: 'price' | 'min_price' | 'max_price'): PriceRule | undefined => {
    const spec = fields[name];
    if (spec === undefined) return undefined;
    return { steps: rule(name, spec), scale: typeof spec === 'string' ? 1 : (spec.scale ?? 1) };
  };
  if (fields.price !== undefined && (fields.min_price ?? fields.max_price) !== undefined) {
    throw new MappingError('fields.price', 'give price, or min_price and max_price, not both');
  }
  const whole = price('price');
  const compiled: CompiledMapping = {
    type,
    records: at('records', () => compileRecordsPath(type, mapping.records)),
    levelsUp: 0,
    eventId: { steps: rule('event_id', fields.event_id) },
    baseId: fields.base_id === undefined ? undefined : { steps: rule('base_id', fields.base_id) },
    title: { steps: rule('title', fields.title) },
    online:
      fields.online === undefined
        ? undefined
        : { steps: rule('online', fields.online), equals: fields.online.equals },
    startsAt: datetime('starts_at'),
    endsAt: datetime('ends_at'),
    minPrice: whole ?? price('min_price'),
    maxPrice: whole ?? price('max_price'),
  };
  const up = Math.max(
    ...[compiled.eventId, compiled.baseId, compiled.title, compiled.online, compiled.startsAt]
      .concat([compiled.endsAt, compiled.minPrice, compiled.maxPrice])
      .map((r) => (r === undefined ? 0 : levelsUp(r.steps))),
  );
  if (up >= compiled.records.length) {
    throw new MappingError(
      'fields',
      `a path climbs ${up} levels above records only ${compiled.records.length} deep`,
    );
  }
  return { ...compiled, levelsUp: up };
}

/** Names the format for digests and logs: what shapes the records made from the same bytes. */
export function describeFormat(format: FeedFormat): string {
  return format === BUILT_IN_FORMAT ? BUILT_IN_FORMAT : JSON.stringify(format);
}

export type { FormatType };
