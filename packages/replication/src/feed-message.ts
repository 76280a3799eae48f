import { headers as natsHeaders } from '@nats-io/transport-node';
import type { EventRecord } from '@tessera/core';
import { type PollOutcome, PollOutcomeSchema, StoreStateSchema } from '@tessera/store';
import { z } from 'zod';

/**
 * What the leader publishes to the feed stream, one subject, in order:
 *
 * - a **batch**: `records` messages (a chunk of event records each, under the server's max
 *   payload), all carrying the batch's id, closed by one `commit` message. A batch is either a
 *   `feed` (the records a poll changed) or a `checkpoint` (every record of the leader's store at
 *   sequence `basedOn`, after which the stream's history before it is purged). A batch whose
 *   commit never comes (the leader died) is never applied: the next message of any other batch,
 *   or a state message, abandons it.
 * - a **state** message: a poll that changed no event (unchanged, or failed), for `/ready`.
 *
 * Commits and state messages carry the leader's state digest after them: a node that holds
 * another digest once it has applied the message has diverged (see batch-applier.ts).
 */
export const FEED_STREAM = 'TESSERA_FEED';
export const FEED_SUBJECT = 'tessera.feed';

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
  /** A checkpoint: the version and state of the store it copies. */
  version: z.number().int().optional(),
  state: StoreStateSchema.optional(),
  /** The leader's state digest once the batch is applied: what every node must then hold. */
  digest: z.string().optional(),
});
export type CommitBody = z.infer<typeof CommitSchema>;

/** A state message changes no event: `digest` is the leader's, which every node already holds. */
const StateSchema = z.object({ outcome: PollOutcomeSchema, digest: z.string().optional() });

export type FeedMessage =
  | {
      kind: 'records';
      batch: string;
      batchKind: BatchKind;
      basedOn: number;
      records: EventRecord[];
    }
  | { kind: 'commit'; batch: string; batchKind: BatchKind; basedOn: number; body: CommitBody }
  | { kind: 'state'; outcome: PollOutcome; digest: string | undefined };

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

export function decodeFeedMessage(msg: {
  data: Uint8Array;
  headers?: { get(name: string): string } | undefined;
}): FeedMessage {
  const kind = msg.headers?.get(KIND);
  const text = Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength).toString();
  if (kind === 'state') {
    const body = StateSchema.parse(JSON.parse(text));
    return { kind, outcome: body.outcome, digest: body.digest };
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
    return { kind, batch, batchKind, basedOn, records };
  }
  if (kind === 'commit') {
    return { kind, batch, batchKind, basedOn, body: CommitSchema.parse(JSON.parse(text)) };
  }
  throw new Error(`not a Tessera feed message (kind ${String(kind)})`);
}
