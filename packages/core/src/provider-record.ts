import { z } from 'zod';
import { type Rejection, reject } from './rejection.js';
import type { Vocabulary } from './vocabulary.js';

/**
 * The partner's records, in the vocabulary-neutral names the rest of Tessera uses. Attribute
 * values are always strings in XML; these schemas check presence and shape, and leave the
 * meaning (dates, prices) to `normalizeEvent`, which must reject rather than coerce.
 */
const PROVIDER_ID = /^[A-Za-z0-9_-]{1,64}$/;
const providerId = z.string().regex(PROVIDER_ID);

/** What a partner's base or event id may be: it becomes part of the event's identity. */
export const isProviderId = (text: string): boolean => PROVIDER_ID.test(text);

export const MAX_TITLE_LENGTH = 1024;

export const ProviderBaseSchema = z.object({
  baseId: providerId,
  sellMode: z.string(),
  title: z.string().max(MAX_TITLE_LENGTH),
});
export type ProviderBase = z.infer<typeof ProviderBaseSchema>;

export const ProviderItemSchema = z.object({
  eventId: providerId,
  startsAt: z.string(),
  endsAt: z.string(),
  sellFrom: z.string().optional(),
  sellTo: z.string().optional(),
  soldOut: z.string().optional(),
});
export type ProviderItem = z.infer<typeof ProviderItemSchema>;

export const ProviderZoneSchema = z.object({
  zoneId: z.string().optional(),
  capacity: z.string().optional(),
  price: z.string(),
  name: z.string().optional(),
  numbered: z.string().optional(),
});
export type ProviderZone = z.infer<typeof ProviderZoneSchema>;

export type Attributes = Readonly<Record<string, string>>;

type Parsed<T> = { ok: true; value: T } | { ok: false; rejection: Rejection };

function fromZod<T>(result: z.ZodSafeParseResult<T>, names: Record<string, string>): Parsed<T> {
  if (result.success) return { ok: true, value: result.data };
  const issue = result.error.issues[0];
  const key = String(issue?.path[0] ?? '');
  const field = names[key] ?? key;
  if (issue?.code === 'invalid_type' && issue.input === undefined) {
    return { ok: false, rejection: reject('missing_attribute', `missing ${field}`, field) };
  }
  if (issue?.code === 'too_big') {
    return { ok: false, rejection: reject('attribute_too_long', `${field} is too long`, field) };
  }
  return { ok: false, rejection: reject('invalid_id', `invalid ${field}`, field) };
}

export function readProviderBase(vocab: Vocabulary, attrs: Attributes): Parsed<ProviderBase> {
  const names = { baseId: vocab.baseId, sellMode: 'sell_mode', title: 'title' };
  return fromZod(
    ProviderBaseSchema.safeParse({
      baseId: attrs[vocab.baseId],
      sellMode: attrs.sell_mode,
      title: attrs.title,
    }),
    names,
  );
}

export function readProviderItem(vocab: Vocabulary, attrs: Attributes): Parsed<ProviderItem> {
  const names = { eventId: vocab.itemId, startsAt: vocab.itemStart, endsAt: vocab.itemEnd };
  return fromZod(
    ProviderItemSchema.safeParse({
      eventId: attrs[vocab.itemId],
      startsAt: attrs[vocab.itemStart],
      endsAt: attrs[vocab.itemEnd],
      sellFrom: attrs.sell_from,
      sellTo: attrs.sell_to,
      soldOut: attrs.sold_out,
    }),
    names,
  );
}
