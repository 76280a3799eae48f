/**
 * The partner has used two vocabularies for the same feed: `eventList/base_event/event` and, today,
 * `planList/base_plan/plan`. Everything downstream of the reader speaks one normalized language;
 * this table is the only place that knows the partner's names.
 */
export interface Vocabulary {
  readonly name: 'event' | 'plan';
  readonly root: string;
  readonly base: string;
  readonly baseId: string;
  readonly item: string;
  readonly itemId: string;
  readonly itemStart: string;
  readonly itemEnd: string;
}

export const EVENT_VOCABULARY: Vocabulary = {
  name: 'event',
  root: 'eventList',
  base: 'base_event',
  baseId: 'base_event_id',
  item: 'event',
  itemId: 'event_id',
  itemStart: 'event_start_date',
  itemEnd: 'event_end_date',
};

export const PLAN_VOCABULARY: Vocabulary = {
  name: 'plan',
  root: 'planList',
  base: 'base_plan',
  baseId: 'base_plan_id',
  item: 'plan',
  itemId: 'plan_id',
  itemStart: 'plan_start_date',
  itemEnd: 'plan_end_date',
};

export const VOCABULARIES: readonly Vocabulary[] = [EVENT_VOCABULARY, PLAN_VOCABULARY];

export function vocabularyForRoot(root: string): Vocabulary | undefined {
  return VOCABULARIES.find((v) => v.root === root);
}

export function vocabularyForBase(base: string): Vocabulary | undefined {
  return VOCABULARIES.find((v) => v.base === base);
}

/** The wrapper element between the root and the base elements, the same in both vocabularies. */
export const OUTPUT_ELEMENT = 'output';
export const ZONE_ELEMENT = 'zone';
