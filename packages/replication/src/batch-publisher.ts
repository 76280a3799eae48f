import { randomUUID } from 'node:crypto';
import type { JetStreamClient, JetStreamManager, PubAck } from '@nats-io/jetstream';
import type { EventRecord } from '@tessera/core';
import type {
  ApplyCounts,
  FeedCommit,
  FeedSink,
  FeedWriter,
  PollOutcome,
  RecordChange,
  StoreWriter,
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
import { publishError, ReplicationError } from './replication-error.js';

/** Publishes in flight at once: enough to keep the stream busy, few enough to bound memory. */
const MAX_IN_FLIGHT = 4;
/** Below this the stream is not worth compacting. */
const MIN_CHECKPOINT_BYTES = 64 * 1024;

export interface PublisherOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** This node's store: what the leader compares the feed with (it is caught up before a poll). */
  store: StoreWriter;
  log: Logger;
  /** Largest records message, under the server's max payload. */
  maxMessageBytes: number;
  /** Resolves once this node's own applier has taken in `sequence`. */
  waitConsumed(sequence: number): Promise<void>;
}

export interface Publisher {
  /** The leader's sink: a poll's writes become a batch on the stream instead of a transaction. */
  readonly sink: FeedSink;
  /** Sets where the stream ends, before a poll (the leader is caught up to it). */
  startAt(lastSequence: number): void;
}

/**
 * The leader's side of the stream. A poll writes through `sink` as it would write the store; the
 * records it changes are published as one batch (chunks under the max payload, then a commit),
 * and the poll's commit returns once this node's own applier has applied the batch, so that the
 * leader writes its store the way every node does. Every publish states the sequence it expects
 * the stream to end at: if another node published meanwhile (a lease lost), the publish fails
 * and nothing of this batch is ever applied. After a feed, when what the stream holds has grown
 * past twice the last checkpoint, the leader publishes a checkpoint (every record, as of the
 * sequence it has applied) and purges the history before it: a node that starts empty reads
 * about the state's size, not every feed since the beginning.
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

  class Batch implements FeedWriter {
    readonly id = randomUUID();
    private parts = 0;
    private records = 0;
    private chunk: EventRecord[] = [];
    private chunkBytes = 0;
    private readonly inFlight: Promise<PubAck>[] = [];
    private closed = false;
    readonly counts: ApplyCounts = { inserted: 0, updated: 0, moved: 0, unchanged: 0 };

    constructor(
      private readonly kind: BatchKind,
      private readonly basedOn: number,
    ) {}

    upsert(record: EventRecord): RecordChange {
      if (this.closed) throw new ReplicationError('replication_unavailable', 'the batch is closed');
      const change = this.kind === 'checkpoint' ? 'inserted' : store.classify(record);
      this.counts[change]++;
      if (change !== 'unchanged') this.add(record);
      return change;
    }

    private add(record: EventRecord): void {
      this.chunk.push(record);
      this.chunkBytes += encodedSize(record);
      if (this.chunkBytes >= options.maxMessageBytes) this.send();
    }

    private send(): void {
      if (this.chunk.length === 0) return;
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

    async settle(): Promise<void> {
      while (this.inFlight.length > MAX_IN_FLIGHT) await this.inFlight.shift();
    }

    /** Sends the rest and the commit message; resolves with its sequence, once applied here. */
    async close(body: Omit<CommitBody, 'parts' | 'records'>): Promise<number> {
      this.send();
      this.closed = true;
      for (const sent of this.inFlight.splice(0)) await sent;
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

    async commit(commit: FeedCommit): Promise<ApplyCounts> {
      const outcome: PollOutcome = { ok: true, ...commit, counts: this.counts };
      await this.close({ outcome });
      await maybeCheckpoint().catch((error: unknown) =>
        log.warn({ err: error }, 'could not write a checkpoint; will try after the next feed'),
      );
      return { ...this.counts };
    }

    async abort(): Promise<void> {
      // No commit: the records published so far are never applied anywhere.
      this.closed = true;
      await Promise.allSettled(this.inFlight.splice(0));
    }
  }

  const maybeCheckpoint = async (): Promise<void> => {
    const info = await jsm.streams.info(FEED_STREAM);
    // Until a checkpoint was written, the state's size is estimated from the events it holds.
    const stateBytes = lastCheckpointBytes ?? store.count() * 320;
    if (info.state.bytes < Math.max(MIN_CHECKPOINT_BYTES, 2 * stateBytes)) return;
    const basedOn = lastSequence;
    const first = basedOn + 1;
    const batch = new Batch('checkpoint', basedOn);
    // Read from one snapshot: the version, state and records as of `basedOn`.
    const version = store.head().version;
    const state = store.state();
    let bytes = 0;
    for (const record of store.records()) {
      bytes += encodedSize(record);
      batch.upsert(record);
      await batch.settle();
    }
    await batch.close({ version, state });
    await jsm.streams.purge(FEED_STREAM, { seq: first });
    lastCheckpointBytes = bytes;
    log.info(
      { basedOn, bytes, events: store.count() },
      'checkpoint written; history before it purged',
    );
  };

  const sink: FeedSink = {
    state: () => store.state(),
    classify: (record) => store.classify(record),
    beginFeed: () => new Batch('feed', 0),
    async recordPoll(outcome: PollOutcome) {
      const ack = await publish(encodeState(outcome), lastSequence++);
      await options.waitConsumed(ack.seq);
    },
  };

  return {
    sink,
    startAt(sequence) {
      lastSequence = sequence;
    },
  };
}
