import type { KV } from '@nats-io/kv';
import { type NatsConnection, RequestError, TimeoutError } from '@nats-io/transport-node';
import {
  type ActionEnvelope,
  errorEnvelope,
  OperatorError,
  type OperatorRequest,
  OperatorRequestSchema,
  type OperatorResult,
  resultEnvelope,
  resultOf,
} from '@tessera/operator';
import type { StoreWriter } from '@tessera/store';
import type { Logger } from 'pino';

/** A feed's operator requests go to `tessera.operator.<feed>`, answered by its leader alone. */
const OPERATOR_SUBJECT = 'tessera.operator';
/** The feeds an operator paused, cluster-wide: a key per paused feed, deleted on resume. */
export const PAUSED_BUCKET = 'tessera_paused';

/**
 * Cluster mode's operator actions: an action is carried from whichever node received it to the
 * node leading the feed (NATS request and reply), and a pause is the cluster's, not a node's:
 * kept in a bucket that every node mirrors into its store (so /feeds shows it everywhere) and
 * that a new leader reads before its first poll.
 */
export interface OperatorChannel {
  /** What the feed's leader did; `no_leader` when no node leads it now. */
  ask(request: OperatorRequest, timeoutMs?: number): Promise<OperatorResult>;
  /** Answers the feed's actions with `act` while this node leads it; returns how to stop. */
  serve(feed: string, act: (request: OperatorRequest) => Promise<OperatorResult>): () => void;
  paused(feed: string): Promise<boolean>;
  setPaused(feed: string, paused: boolean): Promise<void>;
}

export function createOperatorChannel(
  nc: NatsConnection,
  pausedKv: KV,
  log: Logger,
): OperatorChannel {
  const subjectOf = (feed: string) => `${OPERATOR_SUBJECT}.${feed}`;
  return {
    async ask(request, timeoutMs = 5_000) {
      const checked = OperatorRequestSchema.parse(request);
      let reply: unknown;
      try {
        const msg = await nc.request(subjectOf(checked.feed), JSON.stringify(checked), {
          timeout: timeoutMs,
        });
        reply = msg.json();
      } catch (cause) {
        if (cause instanceof RequestError && cause.isNoResponders()) {
          throw new OperatorError(
            'no_leader',
            `no node leads feed ${checked.feed} now (no live node runs it, or its lease is passing)`,
            { cause },
          );
        }
        const why =
          cause instanceof TimeoutError ? `no answer within ${timeoutMs} ms` : String(cause);
        throw new OperatorError('ingestor_unavailable', `feed ${checked.feed}'s leader: ${why}`, {
          cause,
        });
      }
      return resultOf(reply);
    },
    serve(feed, act) {
      const sub = nc.subscribe(subjectOf(feed));
      void (async () => {
        for await (const msg of sub) {
          let answer: ActionEnvelope;
          try {
            answer = resultEnvelope(await act(OperatorRequestSchema.parse(msg.json())));
          } catch (error) {
            answer = errorEnvelope(error);
          }
          msg.respond(JSON.stringify(answer));
        }
      })().catch((error: unknown) => log.warn({ err: error, feed }, 'operator requests stopped'));
      return () => sub.unsubscribe();
    },
    async paused(feed) {
      const entry = await pausedKv.get(feed);
      return entry !== null && entry.operation === 'PUT';
    },
    async setPaused(feed, paused) {
      if (paused) await pausedKv.put(feed, '1');
      else await pausedKv.delete(feed);
    },
  };
}

/**
 * Keeps this node's store's pause flags as the cluster's bucket says, for /feeds on every node;
 * ends when the connection closes.
 */
export async function mirrorPauses(pausedKv: KV, store: StoreWriter, log: Logger): Promise<void> {
  const updates = await pausedKv.watch();
  for await (const entry of updates) {
    try {
      store.recordPaused(entry.key, entry.operation === 'PUT');
    } catch (error) {
      log.warn({ err: error, feed: entry.key }, 'could not record a pause of the cluster');
    }
  }
}
