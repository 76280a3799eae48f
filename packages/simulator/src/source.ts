import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CURRENT_VOCABULARY, VOCABULARY_NAMES, type VocabularyName } from '@tessera/core';
import { FIXTURE_RESPONSES, fixturePath } from '@tessera/fixtures';
import { z } from 'zod';
import { GeneratedFeedSchema, generateFeed } from './feed-generator.js';
import { generatePartnerFeed, PartnerFeedSchema } from './partner-feed.js';

/** What the simulator serves as the feed. */
export const SourceSchema = z.discriminatedUnion('kind', [
  /** The partner's real answers; they rotate, one per served feed, unless one is pinned. */
  z.object({
    kind: z.literal('fixtures'),
    vocabulary: z.enum(VOCABULARY_NAMES).default(CURRENT_VOCABULARY),
    /** Pin one answer (1–3); without it the answers rotate, one per served feed. */
    response: z.number().int().min(1).max(3).optional(),
  }),
  GeneratedFeedSchema.extend({
    kind: z.literal('generated'),
    /** Serve a different feed each time (seed + feeds served), as a busy partner would. */
    evolve: z.boolean().default(false),
  }),
  /** A feed in another partner's own format (see partner-feed.ts). */
  PartnerFeedSchema.extend({ kind: z.literal('partner') }),
  /** Exactly this document, for a test that needs particular records. */
  z.object({
    kind: z.literal('document'),
    body: z.string(),
    vocabulary: z.enum(VOCABULARY_NAMES).default(CURRENT_VOCABULARY),
    /** A partner of another format (JSON, say) answers with its own type. */
    contentType: z.string().optional(),
  }),
]);
/** A source as given (defaults optional); the simulator keeps it parsed. */
export type Source = z.input<typeof SourceSchema>;
export type ParsedSource = z.output<typeof SourceSchema>;

/** One feed's body: whole bytes, or a stream of pieces for feeds too large to hold. */
export interface FeedBody {
  etag: string;
  /** The answer's Content-Type; XML by default. */
  contentType?: string;
  bytes?: Buffer;
  stream?: () => Iterable<Buffer>;
}

export interface SourceCursor {
  readonly source: ParsedSource;
  readonly vocabulary: VocabularyName;
  /** Whole feeds served so far, whatever the source. */
  readonly feedsServed: number;
  /** The feed to serve now. */
  current(): FeedBody;
  /** Moves on after a whole feed was served (the next fixture, the next evolved feed). */
  served(): void;
  replace(source: Source): void;
}

let fixtures: Record<VocabularyName, Buffer[]> | undefined;
function fixtureBytes(vocabulary: VocabularyName, response: number): Buffer {
  fixtures ??= Object.fromEntries(
    VOCABULARY_NAMES.map((v) => [v, FIXTURE_RESPONSES.map((n) => readFileSync(fixturePath(v, n)))]),
  ) as Record<VocabularyName, Buffer[]>;
  return fixtures[vocabulary][response - 1]!;
}

const digest = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

export function createSourceCursor(initial: Source): SourceCursor {
  let source = SourceSchema.parse(initial);
  let feedsServed = 0;
  let rotation = 0;
  return {
    get source() {
      return source;
    },
    get vocabulary() {
      // A partner of another format has none: fault documents then speak today's.
      return 'vocabulary' in source ? source.vocabulary : CURRENT_VOCABULARY;
    },
    get feedsServed() {
      return feedsServed;
    },
    current() {
      switch (source.kind) {
        case 'fixtures': {
          const n = source.response ?? FIXTURE_RESPONSES[rotation % FIXTURE_RESPONSES.length]!;
          return {
            etag: `"fixture-${source.vocabulary}-${n}"`,
            bytes: fixtureBytes(source.vocabulary, n),
          };
        }
        case 'document':
          return {
            etag: `"doc-${digest(source.body)}"`,
            bytes: Buffer.from(source.body),
            ...(source.contentType === undefined ? {} : { contentType: source.contentType }),
          };
        case 'partner': {
          const { kind: _kind, ...options } = source;
          return {
            etag: `"partner-${digest(JSON.stringify(options))}"`,
            contentType: options.format === 'json' ? 'application/json' : 'application/xml',
            stream: () => generatePartnerFeed(options),
          };
        }
        case 'generated': {
          const { kind: _kind, evolve, ...options } = source;
          const feed = evolve ? { ...options, seed: options.seed + feedsServed } : options;
          return {
            etag: `"gen-${digest(JSON.stringify(feed))}"`,
            stream: () => generateFeed(feed),
          };
        }
      }
    },
    served() {
      feedsServed++;
      rotation++;
    },
    replace(next) {
      source = SourceSchema.parse(next);
      rotation = 0;
    },
  };
}
