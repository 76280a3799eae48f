import { type FeedStage, nextState, type ReplicatedCommit, type StoreWriter } from '@tessera/store';
import type { Logger } from 'pino';
import { decodeFeedMessage, type FeedMessage } from './feed-message.js';
import { ReplicationError } from './replication-error.js';

/** A message of the feed stream, as the consumer hands it over. */
export interface StreamMessage {
  seq: number;
  data: Uint8Array;
  headers?: { get(name: string): string } | undefined;
}

/** What applying one message did. */
export interface Applied {
  /** The message carried the leader's digest and this store now holds exactly that. */
  verified: boolean;
}

interface OpenBatch {
  batch: string;
  parts: number;
  /** A checkpoint of a point this store has passed already: its records change nothing. */
  skipping: boolean;
}

export interface BatchApplier {
  /**
   * Applies the next message of the stream; messages must come in stream order. Throws
   * `state_diverged` when, once applied, the store's digest is not the leader's.
   */
  apply(message: StreamMessage): Promise<Applied>;
  /** The last stream sequence taken in (applied, or staged in the open batch). */
  consumed(): number;
  /** The last stream sequence committed to the store. */
  applied(): number;
  /** Drops the open batch (uncommitted), e.g. to read again from `applied() + 1`. */
  reset(): Promise<void>;
}

/**
 * Applies the feed stream to a store, every node alike (the leader included: one write path).
 * A batch's records are staged as they arrive, outside the store; its commit message applies
 * them in one transaction together with the stream sequence it completes, the cluster's version
 * and the state: applied exactly once, whatever crashes, because reading resumes after the last
 * sequence committed. A batch whose commit never comes is never applied: its stage is dropped as
 * soon as anything else arrives. Since nothing uncommitted is ever in the store, what the leader
 * compares a feed with is always what every node holds.
 *
 * Every commit and state message says which state digest the store must hold once it is
 * applied; a store holding another one has diverged (`state_diverged`).
 */
export function createBatchApplier(options: {
  store: StoreWriter;
  datasetId: string;
  /** The feed the stream carries (cluster mode runs one). */
  feed: string;
  log: Logger;
}): BatchApplier {
  const { store, datasetId, feed, log } = options;
  const stage: FeedStage = store.openStage('stream');
  let open: OpenBatch | undefined;
  const applied = (): number => store.cluster()?.appliedSequence ?? 0;
  let consumed = applied();

  const abandon = async (reason: string): Promise<void> => {
    if (open === undefined) return;
    const dropping = open;
    open = undefined;
    await stage.clear();
    log.warn({ batch: dropping.batch, parts: dropping.parts }, `batch abandoned: ${reason}`);
  };

  /** The stage's records, and then the stage emptied for the next batch. */
  const applyStaged = async (commit: ReplicatedCommit): Promise<void> => {
    try {
      store.applyReplicated(stage.records(), commit);
    } finally {
      await stage.clear();
    }
  };

  /** Closes the open batch with its commit message at `sequence`. */
  const commit = async (
    m: Extract<FeedMessage, { kind: 'commit' }>,
    batch: OpenBatch,
    sequence: number,
  ): Promise<void> => {
    const state = store.state(feed);
    if (m.batchKind === 'checkpoint') {
      // A checkpoint carries the version and state of the store it copies; one this store has
      // passed already changes nothing but the sequence.
      if (batch.skipping || m.body.state === undefined) {
        store.recordReplicated({ feed, sequence, datasetId, state });
      } else {
        await applyStaged({
          feed,
          sequence,
          datasetId,
          version: m.body.version,
          state: m.body.state,
        });
      }
    } else {
      // A feed's counts are the leader's, so that every node reports the same.
      const outcome = m.body.outcome ?? { ok: true as const, at: Date.now() };
      await applyStaged({
        feed,
        sequence,
        datasetId,
        version: sequence,
        state: nextState(state, outcome),
      });
    }
  };

  /**
   * The leader's digest is what this store must hold now; a skipped checkpoint describes an
   * earlier point, comparable only when this store stood exactly there.
   */
  const check = (expected: string | undefined, sequence: number): boolean => {
    if (expected === undefined) return false;
    const actual = store.digest();
    if (actual === expected) return true;
    throw new ReplicationError(
      'state_diverged',
      `after sequence ${sequence} this store's state digest is ${actual}, the leader's is ${expected}`,
    );
  };

  const applyRecords = async (m: Extract<FeedMessage, { kind: 'records' }>): Promise<void> => {
    if (open !== undefined && open.batch !== m.batch) {
      await abandon('another batch began before its commit');
    }
    open ??= {
      batch: m.batch,
      parts: 0,
      skipping: m.batchKind === 'checkpoint' && applied() >= m.basedOn,
    };
    open.parts++;
    if (!open.skipping) stage.add(m.records);
  };

  const applyCommit = async (
    m: Extract<FeedMessage, { kind: 'commit' }>,
    sequence: number,
  ): Promise<boolean> => {
    if (open !== undefined && open.batch !== m.batch) {
      await abandon('another batch began before its commit');
    }
    const standing = applied();
    const batch: OpenBatch = open ?? {
      batch: m.batch,
      parts: 0,
      skipping: true,
    };
    if (batch.parts !== m.body.parts) {
      // Reading resumes at batch boundaries, so a commit without all its records means the
      // stream holds what this store cannot apply: stop rather than diverge.
      throw new ReplicationError(
        'replication_inconsistent',
        `batch ${m.batch} commits ${m.body.parts} parts at sequence ${sequence}, ${batch.parts} were read`,
      );
    }
    open = undefined;
    await commit(m, batch, sequence);
    const comparable = !(m.batchKind === 'checkpoint' && batch.skipping) || standing === m.basedOn;
    return comparable && check(m.body.digest, sequence);
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
      let verified = false;
      try {
        if (m.kind === 'state') {
          await abandon('a state message came before its commit');
          store.recordReplicated({
            feed,
            sequence: message.seq,
            datasetId,
            state: nextState(store.state(feed), m.outcome),
          });
          verified = check(m.digest, message.seq);
        } else if (m.kind === 'records') {
          await applyRecords(m);
        } else {
          verified = await applyCommit(m, message.seq);
        }
      } finally {
        // A message that diverged was applied all the same: reading goes on after it (or, on a
        // re-sync, from the start of the stream).
        consumed = Math.max(consumed, applied());
      }
      if (m.kind === 'records') consumed = message.seq;
      return { verified };
    },
  };
}
