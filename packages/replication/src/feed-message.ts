import { headers as natsHeaders } from '@nats-io/transport-node';
import type { EventRecord } from '@tessera/core';
import { FeedStateSchema, type PollOutcome, PollOutcomeSchema } from '@tessera/store';
import { z } from 'zod';

/**
 * What the leaders publish to the feed stream. Every feed has its own leader and its own two
 * subjects, and the stream keeps one order over all of them (every node applies it in that
 * order, so that the version, a stream sequence, names the same content on every node):
 *
 * - a **batch** of one feed: `records` messages on `tessera.feed.<feed>.records` (a chunk of
 *   event records each, under the server's max payload), all carrying the batch's id, closed by
 *   one `commit` message on `tessera.feed.<feed>.commit`. A batch is either a `feed` (the records
 *   a poll changed) or a `checkpoint` (every record of that feed as of its commit at sequence
 *   `basedOn`, after which the feed's history before it is purged). A batch whose commit never
 *   comes (its leader died) is never applied: the feed's next batch or state message abandons it.
 * - a **state** message, on the commit subject: a poll that changed no event (unchanged, or
 *   failed), for `/ready`.
 *
 * Commit subjects take each feed's commits and state messages in a chain: a leader publishes
 * there expecting the subject's last sequence to be the one it last applied, so that a leader
 * that lost its lease can never commit over its successor. Commits and state messages carry the
 * feed's digest after them: a node whose digest of that feed differs once it applied the
 * message has diverged (see batch-applier.ts).
 *
 * Messages of the code that ran one feed per cluster sit on `tessera.feed` without a
 * feed in their subject: they are read as the feed that cluster ran (`legacyFeed`).
 */
export const FEED_STREAM = 'TESSERA_FEED';
export const LEGACY_SUBJECT = 'tessera.feed';
export const FEED_SUBJECTS = [LEGACY_SUBJECT, `${LEGACY_SUBJECT}.>`];

export function commitSubject(feed: string): string {
  return `${LEGACY_SUBJECT}.${feed}.commit`;
}
export function recordsSubject(feed: string): string {
  return `${LEGACY_SUBJECT}.${feed}.records`;
}
/** Every subject of one feed, for a purge or a count. */
export function feedSubjects(feed: string): string {
  return `${LEGACY_SUBJECT}.${feed}.>`;
}

/** The feed a message is of, from its subject. */
export function feedOfSubject(subject: string, legacyFeed: string): string {
  if (subject === LEGACY_SUBJECT) return legacyFeed;
  const parts = subject.split('.');
  if (parts.length !== 4 || `${parts[0]}.${parts[1]}` !== LEGACY_SUBJECT) {
    throw new Error(`not a Tessera feed subject: ${subject}`);
  }
  return parts[2]!;
}

const KIND = 'Tessera-Kind';
const BATCH = 'Tessera-Batch';
const BATCH_KIND = 'Tessera-Batch-Kind';
const BASED_ON = 'Tessera-Based-On';

export type BatchKind = 'feed' | 'checkpoint';

const CommitSchema = z.object({
  parts: z.number().int().nonnegative(),
  records: z.number().int().nonnegative(),
  /** A feed batch: how the poll went (its counts are the leader's). */
  outcome: PollOutcomeSchema.optional(),
  /** A checkpoint: the version of the store it copies and the feed's state. */
  version: z.number().int().optional(),
  state: FeedStateSchema.optional(),
  /** The feed's digest once the batch is applied: what every node must then hold. */
  digest: z.string().optional(),
});
export type CommitBody = z.infer<typeof CommitSchema>;

/** A state message changes no event: `digest` is the feed's, which every node already holds. */
const StateSchema = z.object({ outcome: PollOutcomeSchema, digest: z.string().optional() });

export type FeedMessage = { feed: string } & (
  | {
      kind: 'records';
      batch: string;
      batchKind: BatchKind;
      basedOn: number;
      records: EventRecord[];
    }
  | { kind: 'commit'; batch: string; batchKind: BatchKind; basedOn: number; body: CommitBody }
  | { kind: 'state'; outcome: PollOutcome; digest: string | undefined }
);

export interface Encoded {
  data: Uint8Array;
  headers: ReturnType<typeof natsHeaders>;
}

type Tuple = [id: string, startsAt: number, endsAt: number, summary: string];

function batchHeaders(kind: string, batch: string, batchKind: BatchKind, basedOn: number) {
  const h = natsHeaders();
  h.set(KIND, kind);
  h.set(BATCH, batch);
  h.set(BATCH_KIND, batchKind);
  h.set(BASED_ON, String(basedOn));
  return h;
}

export function encodeRecords(
  batch: string,
  batchKind: BatchKind,
  basedOn: number,
  records: EventRecord[],
): Encoded {
  const tuples: Tuple[] = records.map((r) => [r.id, r.startsAt, r.endsAt, r.summary]);
  return {
    data: Buffer.from(JSON.stringify(tuples)),
    headers: batchHeaders('records', batch, batchKind, basedOn),
  };
}

/** Bytes a record adds to a records message, to cut messages under the server's max payload. */
export function encodedSize(record: EventRecord): number {
  return Buffer.byteLength(record.summary) + record.id.length + 64;
}

export function encodeCommit(
  batch: string,
  batchKind: BatchKind,
  basedOn: number,
  body: CommitBody,
): Encoded {
  return {
    data: Buffer.from(JSON.stringify(body)),
    headers: batchHeaders('commit', batch, batchKind, basedOn),
  };
}

export function encodeState(outcome: PollOutcome, digest?: string): Encoded {
  const h = natsHeaders();
  h.set(KIND, 'state');
  return { data: Buffer.from(JSON.stringify({ outcome, digest })), headers: h };
}

export function decodeFeedMessage(
  msg: {
    subject: string;
    data: Uint8Array;
    headers?: { get(name: string): string } | undefined;
  },
  legacyFeed: string,
): FeedMessage {
  const feed = feedOfSubject(msg.subject, legacyFeed);
  const kind = msg.headers?.get(KIND);
  const text = Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength).toString();
  if (kind === 'state') {
    const body = StateSchema.parse(JSON.parse(text));
    return { feed, kind, outcome: body.outcome, digest: body.digest };
  }
  const batch = msg.headers?.get(BATCH) ?? '';
  const batchKind = msg.headers?.get(BATCH_KIND) === 'checkpoint' ? 'checkpoint' : 'feed';
  const basedOn = Number(msg.headers?.get(BASED_ON) ?? 0);
  if (kind === 'records') {
    const tuples = JSON.parse(text) as Tuple[];
    const records = tuples.map(([id, startsAt, endsAt, summary]) => ({
      id,
      startsAt,
      endsAt,
      summary,
    }));
    return { feed, kind, batch, batchKind, basedOn, records };
  }
  if (kind === 'commit') {
    return {
      feed,
      kind,
      batch,
      batchKind,
      basedOn,
      body: CommitSchema.parse(JSON.parse(text)),
    };
  }
  throw new Error(`not a Tessera feed message (kind ${String(kind)})`);
}
