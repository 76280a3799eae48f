import { OperatorError, type OperatorRequest, type OperatorResult } from '@tessera/operator';
import type { Logger } from 'pino';
import type { FeedLoop } from './feed-loop.js';

export interface ActionTarget {
  /** The running loop of a feed, or undefined when this node does not poll it. */
  loopOf(feed: string): FeedLoop | undefined;
  /** Keeps a pause where a restart (or, in cluster mode, the next leader) finds it. */
  recordPaused(feed: string, paused: boolean): void | Promise<void>;
  /** This node's name, in the answer. */
  node: string;
}

/**
 * Does an operator's action on a feed's poll loop (see @tessera/operator): poll now, or pause and
 * resume, the pause recorded first so that a restart keeps the feed as the operator left it.
 * Every action is logged with who asked.
 */
export function createActionHandler(
  target: ActionTarget,
  log: Logger,
): (request: OperatorRequest) => Promise<OperatorResult> {
  return async ({ feed, action, by }) => {
    const loop = target.loopOf(feed);
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
        await target.recordPaused(feed, pause);
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
    return { feed, action, outcome, paused: loop.paused, node: target.node };
  };
}
