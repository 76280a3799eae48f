import {
  nextState,
  type ReplicatedCommit,
  type StoreFeedWriter,
  type StoreWriter,
} from '@tessera/store';
import type { Logger } from 'pino';
import { type BatchKind, decodeFeedMessage, type FeedMessage } from './feed-message.js';
import { ReplicationError } from './replication-error.js';

/** A message of the feed stream, as the consumer hands it over. */
export interface StreamMessage {
  seq: number;
  data: Uint8Array;
  headers?: { get(name: string): string } | undefined;
}

interface OpenBatch {
  batch: string;
  kind: BatchKind;
  parts: number;
  /** A checkpoint of a point this store has passed already: its records change nothing. */
  skipping: boolean;
  writer: StoreFeedWriter | undefined;
}

export interface BatchApplier {
  /** Applies the next message of the stream; messages must come in stream order. */
  apply(message: StreamMessage): Promise<void>;
  /** The last stream sequence taken in (applied, or held in the open batch). */
  consumed(): number;
  /** The last stream sequence committed to the store. */
  applied(): number;
  /** Drops the open batch (uncommitted), e.g. to read again from `applied() + 1`. */
  reset(): Promise<void>;
}

/**
 * Applies the feed stream to a store, every node alike (the leader included: one write path).
 * A batch's records stream into one LMDB write transaction as they arrive, and the commit message
 * commits it together with the stream sequence it completes, the cluster's version and the
 * state: applied exactly once, whatever crashes, because reading resumes after the last
 * sequence committed. A batch whose commit never comes is abandoned, never applied, as soon as
 * anything else arrives.
 */
export function createBatchApplier(options: {
  store: StoreWriter;
  datasetId: string;
  log: Logger;
}): BatchApplier {
  const { store, datasetId, log } = options;
  let open: OpenBatch | undefined;
  const applied = (): number => store.cluster()?.appliedSequence ?? 0;
  let consumed = applied();

  const abandon = async (reason: string): Promise<void> => {
    if (open === undefined) return;
    const dropping = open;
    open = undefined;
    await dropping.writer?.abort();
    log.warn({ batch: dropping.batch, parts: dropping.parts }, `batch abandoned: ${reason}`);
  };

  /** Closes the open batch with its commit message at `sequence`. */
  const commit = async (
    m: Extract<FeedMessage, { kind: 'commit' }>,
    batch: OpenBatch,
    sequence: number,
  ): Promise<void> => {
    const state = store.state();
    let replicated: ReplicatedCommit;
    if (m.batchKind === 'checkpoint') {
      // A checkpoint carries the version and state of the store it copies; one this store has
      // passed already changes nothing but the sequence.
      replicated =
        batch.skipping || m.body.state === undefined
          ? { sequence, datasetId, state }
          : { sequence, datasetId, version: m.body.version, state: m.body.state };
    } else {
      // A feed's counts are the leader's, so that every node reports the same.
      const outcome = m.body.outcome ?? { ok: true as const, at: Date.now() };
      replicated = { sequence, datasetId, version: sequence, state: nextState(state, outcome) };
    }
    // The version moves only with events written: a batch that wrote none names the same content.
    if (batch.writer !== undefined) await batch.writer.commitReplicated(replicated);
    else store.recordReplicated({ ...replicated, version: undefined });
  };

  return {
    consumed: () => consumed,
    applied,

    async reset() {
      await abandon('reading again from the last committed sequence');
      consumed = applied();
    },

    async apply(message) {
      const m = decodeFeedMessage(message);
      if (m.kind === 'state') {
        await abandon('a state message came before its commit');
        store.recordReplicated({
          sequence: message.seq,
          datasetId,
          state: nextState(store.state(), m.outcome),
        });
      } else {
        if (open !== undefined && open.batch !== m.batch) {
          await abandon('another batch began before its commit');
        }
        if (m.kind === 'records') {
          open ??= {
            batch: m.batch,
            kind: m.batchKind,
            parts: 0,
            skipping: m.batchKind === 'checkpoint' && applied() >= m.basedOn,
            writer: undefined,
          };
          open.parts++;
          if (!open.skipping) {
            open.writer ??= store.beginFeed();
            for (const record of m.records) open.writer.upsert(record);
          }
        } else {
          const batch: OpenBatch = open ?? {
            batch: m.batch,
            kind: m.batchKind,
            parts: 0,
            skipping: true,
            writer: undefined,
          };
          if (batch.parts !== m.body.parts) {
            // Reading resumes at batch boundaries, so a commit without all its records means the
            // stream holds what this store cannot apply: stop rather than diverge.
            throw new ReplicationError(
              'replication_inconsistent',
              `batch ${m.batch} commits ${m.body.parts} parts at sequence ${message.seq}, ${batch.parts} were read`,
            );
          }
          open = undefined;
          await commit(m, batch, message.seq);
        }
      }
      consumed = message.seq;
    },
  };
}
