import { FEED_ID } from '@tessera/core';
import { z } from 'zod';

/**
 * What an operator may do to one feed, from the API's admin port: poll it now, pause it (it is
 * not polled, its events stay served, and it stays paused across restarts), resume it.
 */
export const OPERATOR_ACTIONS = ['poll', 'pause', 'resume'] as const;
export type OperatorActionName = (typeof OPERATOR_ACTIONS)[number];

export const OperatorRequestSchema = z.strictObject({
  feed: z.string().regex(FEED_ID, 'not a feed id'),
  action: z.enum(OPERATOR_ACTIONS),
  /** Who asked, for the log of every action: the admin client's address. */
  by: z.string(),
});
export type OperatorRequest = z.infer<typeof OperatorRequestSchema>;

export const OperatorResultSchema = z.strictObject({
  feed: z.string(),
  action: z.enum(OPERATOR_ACTIONS),
  /** `unchanged`: the feed already was as asked (paused twice, say). */
  outcome: z.enum(['polling', 'paused', 'resumed', 'unchanged']),
  paused: z.boolean(),
  /** The node whose ingestor acted: in cluster mode, the feed's leader. */
  node: z.string(),
});
export type OperatorResult = z.infer<typeof OperatorResultSchema>;
