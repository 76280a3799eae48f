import { type FeedStage, nextState, type PollOutcome, type StoreWriter } from '@tessera/store';
import type { Logger } from 'pino';
import {
  advance,
  type ClusterPosition,
  floorOf,
  readPosition,
  resumeAtOf,
} from './cluster-position.js';
import { decodeFeedMessage, type FeedMessage } from './feed-message.js';
import { ReplicationError } from './replication-error.js';

/** A message of the feed stream, as the consumer hands it over. */
export interface StreamMessage {
  seq: number;
  subject: string;
  data: Uint8Array;
  headers?: { get(name: string): string } | undefined;
}

/** What applying one message did. */
export interface Applied {
  /** The feed the message is of. */
  feed: string;
  /** The message carried its feed's digest and this store now holds exactly that. */
  verified: boolean;
}

interface OpenBatch {
  batch: string;
  /** The sequence of its first message: reading must start there again after a crash. */
  first: number;
  parts: number;
  /** A checkpoint of a point this store has passed already: its records change nothing. */
  skipping: boolean;
}

export interface BatchApplier {
  /**
   * Applies the next message of the stream; messages must come in stream order. Throws
   * `state_diverged` when, once applied, the store's digest of the message's feed is not its
   * leader's (the error's `feed` says which).
   */
  apply(message: StreamMessage): Promise<Applied>;
  /** The last stream sequence taken in (applied, skipped, or staged in an open batch). */
  consumed(): number;
  /** The last stream sequence committed to the store. */
  applied(): number;
  /** Drops the open batches (uncommitted), to read again from where the store resumes. */
  reset(): Promise<void>;
  /**
   * Empties one feed that diverged, so that its messages are applied again from the start of
   * the stream; reading starts again there (the other feeds' messages are skipped).
   */
  resync(feed: string): Promise<void>;
}

/**
 * Applies the feed stream to a store, every node alike (the leaders included: one write path).
 * Each feed's batch is staged as it arrives, outside the store, in a stage of that feed's (the
 * leaders of several feeds publish at once, so their batches interleave); its commit message
 * applies it in one transaction together with the cluster position (cluster-position.ts): applied
 * exactly once whatever crashes, because reading resumes at the oldest batch still open and
 * skips what was applied. A batch whose commit never comes is never applied: the feed's next
 * batch or state message drops it. Since nothing uncommitted is ever in the store, what a leader
 * compares its feed with is always what every node holds.
 *
 * Every commit and state message says which digest its feed must have once it is applied; a
 * store holding another one has diverged (`state_diverged`).
 */
export function createBatchApplier(options: {
  store: StoreWriter;
  datasetId: string;
  /** The feed of messages one-feed clusters published without one (see feed-message.ts). */
  legacyFeed: string;
  log: Logger;
}): BatchApplier {
  const { store, datasetId, log } = options;
  const stages = new Map<string, FeedStage>();
  const open = new Map<string, OpenBatch>();
  const position = (): ClusterPosition => readPosition(store) ?? { datasetId, appliedSequence: 0 };
  let consumed = resumeAtOf(readPosition(store)) - 1;

  const stageOf = (feed: string): FeedStage => {
    const stage = stages.get(feed) ?? store.openStage(`stream-${feed}`);
    stages.set(feed, stage);
    return stage;
  };

  const abandon = async (feed: string, reason: string): Promise<void> => {
    const dropping = open.get(feed);
    if (dropping === undefined) return;
    open.delete(feed);
    await stageOf(feed).clear();
    log.warn({ feed, batch: dropping.batch, parts: dropping.parts }, `batch abandoned: ${reason}`);
  };

  /** Where reading starts again if the process stops after the message at `sequence`. */
  const resumeAfter = (sequence: number): number =>
    Math.min(sequence + 1, ...[...open.values()].map((b) => b.first));

  /** The staged records of `feed`, applied with the position after `sequence`. */
  const applyStaged = async (
    m: Extract<FeedMessage, { kind: 'commit' }>,
    sequence: number,
    version: number,
    state = nextState(store.state(m.feed), m.body.outcome ?? { ok: true, at: Date.now() }),
  ): Promise<void> => {
    const stage = stageOf(m.feed);
    try {
      store.applyFeed(m.feed, stage.records(), {
        state,
        storeId: datasetId,
        version,
        position: advance(position(), m.feed, sequence, resumeAfter(sequence)),
        ...(m.batchKind === 'feed' && m.body.outcome !== undefined ? { run: m.body.outcome } : {}),
      });
    } finally {
      await stage.clear();
    }
  };

  /** A write that changed no event: the feed's state (and the poll, if one), and the position. */
  const record = (feed: string, sequence: number, run?: PollOutcome): void => {
    store.applyFeed(feed, [], {
      state: run === undefined ? store.state(feed) : nextState(store.state(feed), run),
      storeId: datasetId,
      version: 0,
      position: advance(position(), feed, sequence, resumeAfter(sequence)),
      ...(run === undefined ? {} : { run }),
    });
  };

  /** The feed's digest is what its leader says it is now. */
  const check = (feed: string, expected: string | undefined, sequence: number): boolean => {
    if (expected === undefined) return false;
    const actual = store.feedDigest(feed);
    if (actual === expected) return true;
    throw new ReplicationError(
      'state_diverged',
      `after sequence ${sequence} this store's digest of feed ${feed} is ${actual}, its leader's is ${expected}`,
      { feed },
    );
  };

  const applyRecords = async (m: Extract<FeedMessage, { kind: 'records' }>, sequence: number) => {
    const current = open.get(m.feed);
    if (current !== undefined && current.batch !== m.batch) {
      await abandon(m.feed, 'another batch of the feed began before its commit');
    }
    let batch = open.get(m.feed);
    if (batch === undefined) {
      batch = {
        batch: m.batch,
        first: sequence,
        parts: 0,
        skipping: m.batchKind === 'checkpoint' && floorOf(position(), m.feed) >= m.basedOn,
      };
      open.set(m.feed, batch);
    }
    batch.parts++;
    if (!batch.skipping) stageOf(m.feed).add(m.records);
  };

  /** Closes the feed's open batch with its commit message; true if its digest was verified. */
  const applyCommit = async (
    m: Extract<FeedMessage, { kind: 'commit' }>,
    sequence: number,
  ): Promise<boolean> => {
    const current = open.get(m.feed);
    if (current !== undefined && current.batch !== m.batch) {
      await abandon(m.feed, 'another batch of the feed committed');
    }
    const batch = open.get(m.feed) ?? { batch: m.batch, first: sequence, parts: 0, skipping: true };
    open.delete(m.feed);
    if (batch.parts !== m.body.parts) {
      // Reading resumes where every open batch began, so a commit without all its records is one
      // whose records were cut by another of its feed's (a leader that lost its lease): every
      // node skips it alike, and its leader's next poll publishes what it did not apply.
      await stageOf(m.feed).clear();
      log.warn(
        { feed: m.feed, batch: m.batch, parts: m.body.parts, read: batch.parts },
        'batch incomplete: skipped on every node',
      );
      record(m.feed, sequence);
      return false;
    }
    if (m.batchKind === 'checkpoint') {
      // A checkpoint of a point this store has passed changes nothing but the position, and its
      // digest is the feed's here too (no commit of the feed comes between it and its basis).
      if (batch.skipping || m.body.state === undefined) record(m.feed, sequence);
      else await applyStaged(m, sequence, m.body.version ?? 0, m.body.state);
    } else {
      // A feed's counts are the leader's, so that every node reports the same.
      await applyStaged(m, sequence, sequence);
    }
    return check(m.feed, m.body.digest, sequence);
  };

  return {
    consumed: () => consumed,
    applied: () => position().appliedSequence,

    async reset() {
      for (const feed of [...open.keys()]) {
        await abandon(feed, 'reading again from where the store resumes');
      }
      consumed = resumeAtOf(readPosition(store)) - 1;
    },

    async resync(feed) {
      for (const f of [...open.keys()]) await abandon(f, `re-syncing feed ${feed}`);
      const current = position();
      store.emptyFeed(feed, {
        storeId: datasetId,
        position: {
          ...current,
          resumeAt: 1,
          resyncing: { ...current.resyncing, [feed]: 0 },
        } satisfies ClusterPosition,
      });
      consumed = 0;
    },

    async apply(message) {
      const m = decodeFeedMessage(message, options.legacyFeed);
      let verified = false;
      if (m.kind === 'records') {
        await applyRecords(m, message.seq);
      } else if (message.seq <= floorOf(position(), m.feed)) {
        // Applied before a restart (or skipped alike): what it closed was dropped with it.
        open.delete(m.feed);
        await stageOf(m.feed).clear();
      } else {
        try {
          if (m.kind === 'state') {
            await abandon(m.feed, 'a state message came before its commit');
            record(m.feed, message.seq, m.outcome);
            verified = check(m.feed, m.digest, message.seq);
          } else {
            verified = await applyCommit(m, message.seq);
          }
        } finally {
          // A message that diverged was applied all the same: reading goes on after it (or, on a
          // re-sync, from the start of the stream).
          consumed = Math.max(consumed, message.seq);
        }
      }
      consumed = Math.max(consumed, message.seq);
      return { feed: m.feed, verified };
    },
  };
}
