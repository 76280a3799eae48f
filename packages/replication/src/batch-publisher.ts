import { randomUUID } from 'node:crypto';
import type { JetStreamClient, JetStreamManager, PubAck } from '@nats-io/jetstream';
import type { EventRecord } from '@tessera/core';
import {
  type ApplyCounts,
  DigestSum,
  EMPTY_DIGEST,
  type FeedCommit,
  type PollOutcome,
  type StoreWriter,
} from '@tessera/store';
import type { Logger } from 'pino';
import {
  type BatchKind,
  type CommitBody,
  type Encoded,
  encodeCommit,
  encodedSize,
  encodeRecords,
  encodeState,
  FEED_STREAM,
  FEED_SUBJECT,
} from './feed-message.js';
import { publishError } from './replication-error.js';

/** Publishes in flight at once: enough to keep the stream busy, few enough to bound memory. */
const MAX_IN_FLIGHT = 4;
/** Below this the stream is not worth compacting. */
const MIN_CHECKPOINT_BYTES = 64 * 1024;

export interface PublisherOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** This node's store: what the leader compares the feed with (it is caught up before a poll). */
  store: StoreWriter;
  /** The feed the stream carries (cluster mode runs one). */
  feed: string;
  log: Logger;
  /** Largest records message, under the server's max payload. */
  maxMessageBytes: number;
  /** Resolves once this node's own applier has taken in `sequence`. */
  waitConsumed(sequence: number): Promise<void>;
}

export interface Publisher {
  /**
   * Publishes the records of a whole, sound feed that differ from this node's committed store,
   * as one batch; resolves with the counts once this node has applied it. A feed that changes
   * nothing publishes no records, only its state.
   */
  publishFeed(records: Iterable<EventRecord>, commit: FeedCommit): Promise<ApplyCounts>;
  /** Publishes a poll that changed no event (unchanged, or failed), once applied here. */
  publishState(outcome: PollOutcome): Promise<void>;
  /** Sets where the stream ends, before a poll (the leader is caught up to it). */
  startAt(lastSequence: number): void;
}

/**
 * The leader's side of the stream. A poll's feed, once whole, is compared record by record with
 * this node's committed store (never with a batch still open: batches are applied only at their
 * commit, so nothing uncommitted can be read), and the records that differ are published as one
 * batch (chunks under the max payload, then a commit carrying the state digest the batch must
 * leave behind). The call returns once this node's own applier has applied the batch, so that
 * the leader writes its store the way every node does. Every publish states the sequence it
 * expects the stream to end at: if another node published meanwhile (a lease lost), the publish
 * fails and nothing of this batch is ever applied. After a feed, when what the stream holds has
 * grown past twice the last checkpoint, the leader publishes a checkpoint (every record, as of
 * the sequence it has applied, with its digest) and purges the history before it: a node that
 * starts empty, or re-syncs, reads about the state's size, not every feed since the beginning.
 */
export function createPublisher(options: PublisherOptions): Publisher {
  const { js, jsm, store, log } = options;
  let lastSequence = 0;
  let lastCheckpointBytes: number | undefined;

  /** Publishes one message expecting the stream to end at `expected`. */
  const publish = async (message: Encoded, expected: number): Promise<PubAck> => {
    try {
      return await js.publish(FEED_SUBJECT, message.data, {
        headers: message.headers,
        expect: { lastSequence: expected, streamName: FEED_STREAM },
      });
    } catch (cause) {
      throw publishError(cause);
    }
  };

  /** One batch on its way to the stream: records in chunks, pipelined, then its commit. */
  class Batch {
    readonly id = randomUUID();
    private parts = 0;
    private records = 0;
    private chunk: EventRecord[] = [];
    private chunkBytes = 0;
    private readonly inFlight: Promise<PubAck>[] = [];

    constructor(
      private readonly kind: BatchKind,
      private readonly basedOn: number,
    ) {}

    get size(): number {
      return this.records + this.chunk.length;
    }

    /** Adds a record; resolves once few enough publishes are in flight (backpressure). */
    async add(record: EventRecord): Promise<void> {
      this.chunk.push(record);
      this.chunkBytes += encodedSize(record);
      if (this.chunkBytes < options.maxMessageBytes) return;
      this.send();
      while (this.inFlight.length > MAX_IN_FLIGHT) await this.inFlight.shift();
    }

    private send(): void {
      if (this.chunk.length === 0) return;
      if (this.parts === 0) log.info({ batch: this.id, kind: this.kind }, 'publishing a batch');
      const message = encodeRecords(this.id, this.kind, this.basedOn, this.chunk);
      this.records += this.chunk.length;
      this.chunk = [];
      this.chunkBytes = 0;
      this.parts++;
      // Pipelined, each expecting the one before it: the stream takes them in order or not at all.
      const sent = publish(message, lastSequence++);
      sent.catch(() => {});
      this.inFlight.push(sent);
    }

    /** Sends the rest and the commit message; resolves with its sequence, once applied here. */
    async close(body: Omit<CommitBody, 'parts' | 'records'>): Promise<number> {
      this.send();
      try {
        for (const sent of this.inFlight.splice(0)) await sent;
      } finally {
        await Promise.allSettled(this.inFlight.splice(0));
      }
      const ack = await publish(
        encodeCommit(this.id, this.kind, this.basedOn, {
          ...body,
          parts: this.parts,
          records: this.records,
        }),
        lastSequence++,
      );
      await options.waitConsumed(ack.seq);
      return ack.seq;
    }

    /** No commit: whatever was published of this batch is never applied anywhere. */
    async abandon(): Promise<void> {
      await Promise.allSettled(this.inFlight.splice(0));
    }
  }

  const publishState = async (outcome: PollOutcome): Promise<void> => {
    const ack = await publish(encodeState(outcome, store.digest() ?? EMPTY_DIGEST), lastSequence++);
    await options.waitConsumed(ack.seq);
  };

  const publishFeed = async (
    records: Iterable<EventRecord>,
    commit: FeedCommit,
  ): Promise<ApplyCounts> => {
    const counts: ApplyCounts = { inserted: 0, updated: 0, moved: 0, unchanged: 0 };
    const batch = new Batch('feed', lastSequence);
    // What every node's digest must be once the batch is applied: the same fold as the store's.
    const digest = new DigestSum(store.digest() ?? EMPTY_DIGEST);
    try {
      for (const record of records) {
        const seen = store.inspect(record);
        counts[seen.change]++;
        if (seen.change === 'unchanged') continue;
        digest.toggle(seen.previous?.[1], seen.digest);
        await batch.add(record);
      }
      const outcome: PollOutcome = { ok: true, ...commit, counts };
      if (batch.size === 0) {
        await publishState(outcome);
        return counts;
      }
      await batch.close({ outcome, digest: digest.value() });
    } catch (error) {
      await batch.abandon();
      throw error;
    }
    await maybeCheckpoint().catch((error: unknown) =>
      log.warn({ err: error }, 'could not write a checkpoint; will try after the next feed'),
    );
    return counts;
  };

  const maybeCheckpoint = async (): Promise<void> => {
    const info = await jsm.streams.info(FEED_STREAM);
    // Until a checkpoint was written, the state's size is estimated from the events it holds.
    const stateBytes = lastCheckpointBytes ?? store.count() * 320;
    if (info.state.bytes < Math.max(MIN_CHECKPOINT_BYTES, 2 * stateBytes)) return;
    const basedOn = lastSequence;
    const first = basedOn + 1;
    const batch = new Batch('checkpoint', basedOn);
    // Nothing else writes this store meanwhile: the version, state, digest and records all
    // describe the same content, as of `basedOn`.
    const version = store.head().version;
    const state = store.state(options.feed);
    const digest = store.digest() ?? EMPTY_DIGEST;
    let bytes = 0;
    try {
      for (const record of store.records()) {
        bytes += encodedSize(record);
        await batch.add(record);
      }
      await batch.close({ version, state, digest });
    } catch (error) {
      await batch.abandon();
      throw error;
    }
    await jsm.streams.purge(FEED_STREAM, { seq: first });
    lastCheckpointBytes = bytes;
    log.info(
      { basedOn, bytes, events: store.count() },
      'checkpoint written; history before it purged',
    );
  };

  return {
    publishFeed,
    publishState,
    startAt(sequence) {
      lastSequence = sequence;
    },
  };
}
