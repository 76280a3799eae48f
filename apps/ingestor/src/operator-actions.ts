import { OperatorError, type OperatorRequest, type OperatorResult } from '@tessera/operator';
import type { StoreWriter } from '@tessera/store';
import type { Logger } from 'pino';
import type { FeedSet } from './feed-set.js';

/**
 * Does an operator's action on this node's feed loops (see @tessera/operator): poll now, or pause
 * and resume, recorded in the store first so that a restart keeps the feed as the operator left
 * it. Every action is logged with who asked.
 */
export function createActionHandler(
  feeds: FeedSet,
  store: StoreWriter,
  log: Logger,
  node: string,
): (request: OperatorRequest) => Promise<OperatorResult> {
  return async ({ feed, action, by }) => {
    const loop = feeds.loop(feed);
    if (loop === undefined) {
      throw new OperatorError('unknown_feed', `no feed ${feed} runs on this ingestor (see FEEDS)`);
    }
    let outcome: OperatorResult['outcome'];
    if (action === 'poll') {
      if (!loop.pollNow()) {
        throw new OperatorError('feed_paused', `feed ${feed} is paused: resume it to poll it`);
      }
      outcome = 'polling';
    } else {
      const pause = action === 'pause';
      outcome = loop.paused === pause ? 'unchanged' : pause ? 'paused' : 'resumed';
      try {
        store.recordPaused(feed, pause);
      } catch (cause) {
        throw new OperatorError(
          'action_failed',
          `feed ${feed} could not be ${action}d: ${String(cause)}`,
          {
            cause,
          },
        );
      }
      if (pause) loop.pause();
      else loop.resume();
    }
    log.info({ feed, action, by, outcome }, 'operator action');
    return { feed, action, outcome, paused: loop.paused, node };
  };
}
