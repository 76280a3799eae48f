import { randomUUID } from 'node:crypto';
import type { JetStreamClient, JetStreamManager, PubAck } from '@nats-io/jetstream';
import type { EventRecord } from '@tessera/core';
import {
  type ApplyCounts,
  DigestSum,
  type PollCommit,
  type PollOutcome,
  type StoreWriter,
} from '@tessera/store';
import type { Logger } from 'pino';
import {
  type BatchKind,
  type CommitBody,
  commitSubject,
  type Encoded,
  encodeCommit,
  encodedSize,
  encodeRecords,
  encodeState,
  FEED_STREAM,
  feedSubjects,
  LEGACY_SUBJECT,
  recordsSubject,
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
  /** The feed this publisher's node leads. */
  feed: string;
  /** The feed one-feed clusters' messages are of: its first checkpoint purges them too. */
  legacyFeed: string;
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
  publishFeed(records: Iterable<EventRecord>, commit: PollCommit): Promise<ApplyCounts>;
  /** Publishes a poll that changed no event (unchanged, or failed), once applied here. */
  publishState(outcome: PollOutcome): Promise<void>;
  /**
   * Sets the sequence of the feed's last commit or state message, before a poll (the leader is
   * caught up to it): what its next commit expects the feed's chain to end at.
   */
  startAt(lastCommit: number): void;
}

/**
 * A feed leader's side of the stream. A poll's feed, once whole, is compared record by record
 * with this node's committed store (never with a batch still open: batches are applied only at
 * their commit, so nothing uncommitted can be read), and the records that differ are published
 * as one batch (chunks under the max payload, pipelined, then a commit carrying the digest the
 * feed must have after it). The call returns once this node's own applier has applied the
 * batch, so that the leader writes its store the way every node does. Each commit and state
 * message expects the feed's commit subject to end at the feed's last commit this node applied:
 * if another node committed to the feed meanwhile (a lease lost), the publish fails and nothing
 * of this batch is ever applied. After a feed, when the feed's share of the stream has grown past
 * twice its size, the leader publishes a checkpoint of the feed (every record of it, with its
 * digest) and purges the feed's history before it: a node that starts empty, or re-syncs, reads
 * about the state's size, not every feed since the beginning.
 */
export function createPublisher(options: PublisherOptions): Publisher {
  const { js, jsm, store, feed, log } = options;
  let lastCommit = 0;
  let lastCheckpointBytes: number | undefined;

  /** Publishes one message: a commit expects the feed's chain to end at the last commit. */
  const publish = async (subject: string, message: Encoded, fenced: boolean): Promise<PubAck> => {
    try {
      const ack = await js.publish(subject, message.data, {
        headers: message.headers,
        ...(fenced ? { expect: { lastSubjectSequence: lastCommit, streamName: FEED_STREAM } } : {}),
      });
      if (fenced) lastCommit = ack.seq;
      return ack;
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
    /** The first part's publish: backpressure takes acks off `inFlight`, so it is kept apart. */
    private firstSent: Promise<PubAck> | undefined;

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
      // Pipelined: the stream takes them in order; the commit, fenced, decides whether they count.
      const sent = publish(recordsSubject(feed), message, false);
      sent.catch(() => {});
      this.firstSent ??= sent;
      this.inFlight.push(sent);
    }

    /**
     * Sends the rest and the commit message; resolves with the sequences of its first message and
     * of its commit, once applied here.
     */
    async close(body: Omit<CommitBody, 'parts' | 'records'>): Promise<{ first: number }> {
      this.send();
      let first: number | undefined;
      try {
        // The batch's own first message, not the first still in flight: a checkpoint purges the
        // feed's history before it, and a later one would purge the checkpoint's head with it.
        first = (await this.firstSent)?.seq;
        for (const sent of this.inFlight.splice(0)) await sent;
      } finally {
        await Promise.allSettled(this.inFlight.splice(0));
      }
      const ack = await publish(
        commitSubject(feed),
        encodeCommit(this.id, this.kind, this.basedOn, {
          ...body,
          parts: this.parts,
          records: this.records,
        }),
        true,
      );
      await options.waitConsumed(ack.seq);
      return { first: first ?? ack.seq };
    }

    /** No commit: whatever was published of this batch is never applied anywhere. */
    async abandon(): Promise<void> {
      await Promise.allSettled(this.inFlight.splice(0));
    }
  }

  const publishState = async (outcome: PollOutcome): Promise<void> => {
    const ack = await publish(
      commitSubject(feed),
      encodeState(outcome, store.feedDigest(feed)),
      true,
    );
    await options.waitConsumed(ack.seq);
  };

  const publishFeed = async (
    records: Iterable<EventRecord>,
    commit: PollCommit,
  ): Promise<ApplyCounts> => {
    const counts: ApplyCounts = { inserted: 0, updated: 0, moved: 0, unchanged: 0 };
    const batch = new Batch('feed', lastCommit);
    // What every node's digest of the feed must be once the batch is applied: the store's fold.
    const digest = new DigestSum(store.feedDigest(feed));
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

  /** Bytes of the stream that are this feed's, estimated from its share of the messages. */
  const feedStreamBytes = async (): Promise<number> => {
    // Two subjects per feed (and the one-feed clusters' one): the list stays short.
    const info = await jsm.streams.info(FEED_STREAM, { subjects_filter: '>' });
    const ownSubject = (subject: string): boolean =>
      subject.startsWith(`${LEGACY_SUBJECT}.${feed}.`) ||
      (subject === LEGACY_SUBJECT && feed === options.legacyFeed);
    const own = Object.entries(info.state.subjects ?? {})
      .filter(([subject]) => ownSubject(subject))
      .reduce((sum, [, n]) => sum + n, 0);
    return info.state.messages === 0 ? 0 : (info.state.bytes * own) / info.state.messages;
  };

  const maybeCheckpoint = async (): Promise<void> => {
    // Until a checkpoint was written, the feed's size is estimated from the events it holds.
    const stateBytes = lastCheckpointBytes ?? eventsOf(feed) * 320;
    if ((await feedStreamBytes()) < Math.max(MIN_CHECKPOINT_BYTES, 2 * stateBytes)) return;
    const basedOn = lastCommit;
    const batch = new Batch('checkpoint', basedOn);
    // Only this node writes this feed meanwhile: the version, state, digest and records all
    // describe the feed as of its commit `basedOn`.
    const version = store.head().version;
    const state = store.state(feed);
    const digest = store.feedDigest(feed);
    let bytes = 0;
    let first: number;
    try {
      for (const record of store.feedRecords(feed)) {
        bytes += encodedSize(record);
        await batch.add(record);
      }
      ({ first } = await batch.close({ version, state, digest }));
    } catch (error) {
      await batch.abandon();
      throw error;
    }
    await jsm.streams.purge(FEED_STREAM, { filter: feedSubjects(feed), seq: first });
    if (feed === options.legacyFeed) {
      await jsm.streams.purge(FEED_STREAM, { filter: LEGACY_SUBJECT, seq: first });
    }
    lastCheckpointBytes = bytes;
    log.info(
      { feed, basedOn, bytes, events: batch.size },
      "checkpoint written; the feed's history before it purged",
    );
  };

  const eventsOf = (id: string): number => store.feeds().find((f) => f.id === id)?.events ?? 0;

  return {
    publishFeed,
    publishState,
    startAt(sequence) {
      lastCommit = sequence;
    },
  };
}
