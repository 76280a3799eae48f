import { setTimeout as sleep } from 'node:timers/promises';
import {
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { Applied, BatchApplier } from './batch-applier.js';
import { FEED_STREAM } from './feed-message.js';
import { ReplicationError } from './replication-error.js';

/** A consumer silent this long while the stream has more for it is replaced. */
const STALL_MS = 2_000;
const WATCH_EVERY_MS = 1_000;

export interface StreamFollower {
  /** Drops the current consumer and reads on through a new one (after a reconnect, say). */
  renew(): void;
  close(): Promise<void>;
}

export interface StreamFollowerOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  applier: BatchApplier;
  log: Logger;
  /** Consecutive failures to apply a message (the store's) after which following stops. */
  storeFailureLimit: number;
  /** Each message, once applied (or staged in the open batch). */
  onMessage(message: JsMsg, applied: Applied): void;
  /**
   * The store diverged from the cluster's (its digest is not the leader's): resolves once it was
   * reset, so that reading starts again from the beginning of the stream.
   */
  onDiverged(error: ReplicationError): Promise<void>;
  /** Where the stream ends, learnt while nothing arrives. */
  onLatest(sequence: number): void;
  /** Following cannot go on: the store keeps failing, or the stream holds what it cannot apply. */
  onFatal(error: Error): void;
}

/**
 * Reads the feed stream in order, from where the store is, and hands each message to the
 * applier, for as long as it runs. NATS trouble (a server gone, elections, timeouts) only delays
 * it: the consumer is made again, reading on from the last message taken in, for ever. A
 * failure to apply a message reads again from the last committed sequence, and only
 * `storeFailureLimit` of those in a row stop it. A store found diverged is reset by `onDiverged`
 * and read again from the start of the stream (its latest checkpoint). A watchdog replaces a consumer that delivers
 * nothing while the stream has more (its server went away and the client did not notice).
 */
export function followStream(options: StreamFollowerOptions): StreamFollower {
  const { js, jsm, applier, log } = options;
  let closed = false;
  let consuming: ConsumerMessages | undefined;
  let progressAt = Date.now();
  let storeFailures = 0;
  let natsFailures = 0;

  /** Applies what one consumer delivers; resolves when it stops delivering. */
  const drain = async (messages: ConsumerMessages): Promise<void> => {
    for await (const msg of messages) {
      progressAt = Date.now();
      let applied: Applied;
      try {
        applied = await applier.apply(msg);
      } catch (error) {
        if (error instanceof ReplicationError && error.code === 'state_diverged') {
          await options.onDiverged(error);
          return;
        }
        if (error instanceof ReplicationError && error.code === 'replication_inconsistent')
          throw error;
        storeFailures++;
        log.warn(
          { err: error, failures: storeFailures },
          'applying the feed stream failed; reading again from the last committed sequence',
        );
        if (storeFailures >= options.storeFailureLimit) {
          throw new ReplicationError(
            'replication_inconsistent',
            `applying the feed stream failed ${storeFailures} times in a row: ${(error as Error).message}`,
            { cause: error },
          );
        }
        await applier.reset();
        return;
      }
      storeFailures = 0;
      natsFailures = 0;
      options.onMessage(msg, applied);
    }
  };

  const loop = async (): Promise<void> => {
    while (!closed) {
      progressAt = Date.now();
      try {
        // A consumer asked for before the (replicated) stream has elected its leader delivers
        // nothing until it is made again: wait for the leader first.
        const info = await jsm.streams.info(FEED_STREAM);
        if (info.cluster !== undefined && info.cluster.leader === undefined) {
          await sleep(100);
          continue;
        }
        const consumer = await js.consumers.get(FEED_STREAM, {
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: applier.consumed() + 1,
        });
        // Short expiries and heartbeats: a consumer lost with its server is noticed in seconds.
        consuming = await consumer.consume({
          max_messages: 16,
          expires: 5_000,
          idle_heartbeat: 1_000,
        });
        await drain(consuming);
      } catch (error) {
        if (closed) return;
        if (error instanceof ReplicationError) {
          options.onFatal(error);
          return;
        }
        natsFailures++;
        if (natsFailures % 10 === 1) {
          log.warn(
            { err: error, failures: natsFailures },
            'reading the feed stream failed; trying again',
          );
        }
        await sleep(Math.min(2_000, 250 * natsFailures));
      }
    }
  };
  const running = loop();

  const watch = setInterval(() => {
    jsm.streams
      .info(FEED_STREAM)
      .then((info) => {
        options.onLatest(info.state.last_seq);
        if (info.state.last_seq > applier.consumed() && Date.now() - progressAt > STALL_MS) {
          log.warn(
            { consumed: applier.consumed(), last: info.state.last_seq },
            'the stream consumer stalled; reading on through a new one',
          );
          progressAt = Date.now();
          void consuming?.close().catch(() => {});
        }
      })
      .catch(() => {});
  }, WATCH_EVERY_MS);

  return {
    renew() {
      void consuming?.close().catch(() => {});
    },
    async close() {
      closed = true;
      clearInterval(watch);
      await consuming?.close().catch(() => {});
      await running.catch(() => {});
    },
  };
}
