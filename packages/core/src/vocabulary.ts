/**
 * The partner has used two vocabularies for the same feed: `eventList/base_event/event` and, today,
 * `planList/base_plan/plan`. Everything downstream of the reader speaks one normalized language;
 * this table is the only place that knows the partner's names. The splitter, the simulator and
 * the fixtures derive theirs from it, and one contract suite runs over every entry: a new
 * vocabulary is one entry here plus its fixtures.
 */
export interface Vocabulary {
  readonly name: string;
  readonly root: string;
  readonly base: string;
  readonly baseId: string;
  readonly item: string;
  readonly itemId: string;
  readonly itemStart: string;
  readonly itemEnd: string;
}

export const VOCABULARIES = [
  {
    name: 'event',
    root: 'eventList',
    base: 'base_event',
    baseId: 'base_event_id',
    item: 'event',
    itemId: 'event_id',
    itemStart: 'event_start_date',
    itemEnd: 'event_end_date',
  },
  {
    name: 'plan',
    root: 'planList',
    base: 'base_plan',
    baseId: 'base_plan_id',
    item: 'plan',
    itemId: 'plan_id',
    itemStart: 'plan_start_date',
    itemEnd: 'plan_end_date',
  },
] as const satisfies readonly Vocabulary[];

export type VocabularyName = (typeof VOCABULARIES)[number]['name'];

/** The names, as a non-empty tuple (for `z.enum`). */
export const VOCABULARY_NAMES = VOCABULARIES.map((v) => v.name) as [
  VocabularyName,
  ...VocabularyName[],
];

/** The vocabulary the partner uses today, and so the simulator's default. */
export const CURRENT_VOCABULARY: VocabularyName = 'plan';

export function vocabularyNamed(name: VocabularyName): Vocabulary {
  return VOCABULARIES.find((v) => v.name === name)!;
}

export function vocabularyForRoot(root: string): Vocabulary | undefined {
  return VOCABULARIES.find((v) => v.root === root);
}

export function vocabularyForBase(base: string): Vocabulary | undefined {
  return VOCABULARIES.find((v) => v.base === base);
}

/** The wrapper element between the root and the base elements, the same in both vocabularies. */
export const OUTPUT_ELEMENT = 'output';
export const ZONE_ELEMENT = 'zone';
