import type { JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { Applied, BatchApplier } from './batch-applier.js';
import type { ReplicationStatus } from './replication-status.js';

/**
 * What each applied message, and the stream's end as read while nothing arrives, tell the status:
 * how far this node is, how far behind, and (once, after it started) what it read to catch up:
 * about the state's size, not the history's.
 */
export function trackProgress(
  status: ReplicationStatus,
  applier: BatchApplier,
  log: Logger,
  writeStatus: () => void,
  on: { verified(feed: string): void; consumed(sequence: number): void },
): { message(msg: JsMsg, result: Applied): void; streamEnds(sequence: number): void } {
  const startedAt = Date.now();
  const catchUp = { messages: 0, bytes: 0, done: false };
  const settle = (publishedAt: number): void => {
    const applied = applier.consumed();
    if (!catchUp.done && applied >= status.latestSequence) {
      catchUp.done = true;
      log.info(
        {
          messages: catchUp.messages,
          bytes: catchUp.bytes,
          ms: Date.now() - startedAt,
          appliedSequence: applier.applied(),
        },
        'caught up with the cluster',
      );
    }
    // Behind since the oldest message not yet taken in.
    const behindSince =
      applied >= status.latestSequence ? null : (status.behindSince ?? publishedAt);
    if (applied !== status.appliedSequence || behindSince !== status.behindSince) {
      status.appliedSequence = applied;
      status.behindSince = behindSince;
      writeStatus();
    }
  };
  return {
    message(msg, result) {
      if (result.verified) on.verified(result.feed);
      on.consumed(msg.seq);
      status.latestSequence = Math.max(status.latestSequence, msg.seq + msg.info.pending);
      if (!catchUp.done) {
        catchUp.messages++;
        catchUp.bytes += msg.data.length;
      }
      settle(msg.time.getTime());
    },
    streamEnds(sequence) {
      if (sequence === status.latestSequence) return;
      // Lower too: a message's pending counts what a checkpoint's purge may remove right after
      // (the history this node is reading through), and the stream may not grow past that
      // mark for a long time: a node that had read everything stayed "behind", unready, and
      // never logged that it caught up (the bench's 100k catch-up, for 148 s and counting).
      status.latestSequence = sequence;
      settle(Date.now());
    },
  };
}
