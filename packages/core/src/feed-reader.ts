import { type EventRecord, toEventRecord } from './event.js';
import { type NormalizeContext, normalizeEvent } from './normalize-event.js';
import { PriceRange, parsePrice } from './price.js';
import {
  type Attributes,
  type ProviderBase,
  readProviderBase,
  readProviderItem,
} from './provider-record.js';
import type { Rejection } from './rejection.js';
import { type Vocabulary, vocabularyForBase, ZONE_ELEMENT } from './vocabulary.js';

export interface RejectedRecord extends Rejection {
  readonly baseId: string | null;
  readonly eventId: string | null;
}

/** What a stretch of feed yielded. Plain data: it crosses worker-thread boundaries as is. */
export interface FeedReading {
  records: EventRecord[];
  rejections: RejectedRecord[];
  /** Base elements seen, online or not. */
  bases: number;
  /** Events skipped because their base was not on sale online. */
  offline: number;
}

/**
 * Turns a stream of element events (from any XML tokenizer) into event records. It knows the
 * feed's meaning, not its syntax: the ingestor's worker feeds it from `sax`, the core tests from
 * fixtures. Zones are folded into a price range as they pass; no zone is ever kept.
 */
export interface FeedReader {
  openElement(name: string, attributes: Attributes): void;
  closeElement(name: string): void;
  /** Returns what was read since the last call and starts afresh. */
  take(): FeedReading;
}

export function createFeedReader(ctx: NormalizeContext): FeedReader {
  let reading = emptyReading();
  let vocab: Vocabulary | undefined;
  // The current base: parsed, or the reason its events cannot be read, or offline.
  let base: ProviderBase | undefined;
  let baseFault: Rejection | undefined;
  let baseId: string | null = null;
  let offline = false;
  let itemAttrs: Attributes | undefined;
  const prices = new PriceRange();
  let invalidPrice: string | undefined;

  return {
    openElement(name, attributes) {
      if (itemAttrs !== undefined) {
        if (name === ZONE_ELEMENT) {
          const text = attributes.price;
          const price = text === undefined ? undefined : parsePrice(text);
          if (price === undefined) invalidPrice ??= text ?? '(missing)';
          else prices.add(price);
        }
        return;
      }
      if (vocab !== undefined) {
        if (name === vocab.item) {
          itemAttrs = attributes;
          prices.reset();
          invalidPrice = undefined;
        }
        return;
      }
      const found = vocabularyForBase(name);
      if (found === undefined) return;
      vocab = found;
      reading.bases++;
      baseId = attributes[found.baseId] ?? null;
      const parsed = readProviderBase(found, attributes);
      base = parsed.ok ? parsed.value : undefined;
      baseFault = parsed.ok ? undefined : parsed.rejection;
      // Only "online" is on sale; any other mode (offline, or a value we do not know) is not.
      offline = parsed.ok && parsed.value.sellMode !== 'online';
    },

    closeElement(name) {
      if (vocab === undefined) return;
      if (itemAttrs !== undefined) {
        if (name === vocab.item) {
          finishItem(vocab, itemAttrs);
          itemAttrs = undefined;
        }
        return;
      }
      if (name === vocab.base) {
        vocab = undefined;
        base = undefined;
        baseFault = undefined;
        baseId = null;
        offline = false;
      }
    },

    take() {
      const done = reading;
      reading = emptyReading();
      return done;
    },
  };

  function finishItem(v: Vocabulary, attrs: Attributes): void {
    if (offline) {
      reading.offline++;
      return;
    }
    const eventId = attrs[v.itemId] ?? null;
    if (base === undefined) {
      reading.rejections.push({ ...(baseFault ?? missingBase()), baseId, eventId });
      return;
    }
    const item = readProviderItem(v, attrs);
    if (!item.ok) {
      reading.rejections.push({ ...item.rejection, baseId, eventId });
      return;
    }
    const result = normalizeEvent(ctx, base, item.value, {
      min: prices.min,
      max: prices.max,
      invalid: invalidPrice,
    });
    if (result.ok) reading.records.push(toEventRecord(result.event));
    else reading.rejections.push({ ...result.rejection, baseId, eventId });
  }
}

function missingBase(): Rejection {
  return { code: 'missing_attribute', message: 'base element unreadable' };
}

/** A reading of nothing yet, to add to. */
export function emptyReading(): FeedReading {
  return { records: [], rejections: [], bases: 0, offline: 0 };
}
