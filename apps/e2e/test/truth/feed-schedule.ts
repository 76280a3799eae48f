import { createRandom } from '@tessera/simulator';

/** A generated partner answer, as the simulator's control API takes it. */
export interface GeneratedSource {
  kind: 'generated';
  vocabulary: 'event' | 'plan';
  bases: number;
  eventsPerBase: number;
  zonesPerEvent: number;
  seed: number;
  onlineRatio: number;
  flawRatio: number;
  shiftDays: number;
}

/**
 * One step of a fault schedule: a feed the partner serves next, and what goes wrong meanwhile.
 * `publish` steps use a feed large enough that the leader's batch takes several messages, so
 * that a kill lands while it is being published.
 */
export type Step =
  | { kind: 'feed'; feed: GeneratedSource }
  | { kind: 'broken_feed'; feed: GeneratedSource; fault: 'truncate' | 'malformed' }
  | { kind: 'kill_leader_mid_feed'; feed: GeneratedSource }
  | { kind: 'kill_leader_mid_publish'; feed: GeneratedSource }
  | { kind: 'kill_follower_mid_batch'; feed: GeneratedSource }
  | { kind: 'kill_nats_server'; feed: GeneratedSource; server: number }
  | { kind: 'nats_outage'; feed: GeneratedSource }
  | { kind: 'late_node'; feed: GeneratedSource };

const ACTIONS = [
  'feed',
  'broken_feed',
  'kill_leader_mid_feed',
  'kill_leader_mid_publish',
  'kill_follower_mid_batch',
  'kill_nats_server',
  'nats_outage',
  'late_node',
] as const;

/**
 * A feed that reuses the ids of every other (bases 1..n, events b*1000+e) with new values: a
 * new seed redraws titles, prices and zones; `shiftDays` moves starts across the window; base
 * events drawn offline this time are offline, and online again in a later feed; a flaw ratio
 * breaks single records.
 */
function feedFrom(random: () => number, large: boolean): GeneratedSource {
  return {
    kind: 'generated',
    vocabulary: random() < 0.5 ? 'plan' : 'event',
    bases: large ? 3_000 + Math.floor(random() * 1_000) : 100 + Math.floor(random() * 400),
    eventsPerBase: 1 + Math.floor(random() * 2),
    zonesPerEvent: large ? 6 : 1 + Math.floor(random() * 8),
    seed: Math.floor(random() * 1_000_000),
    onlineRatio: 0.6 + random() * 0.4,
    flawRatio: random() < 0.5 ? 0 : 0.05,
    shiftDays: Math.floor(random() * 120) - 60,
  };
}

/** The schedule a seed stands for: a first feed, then `length` draws among the actions. */
export function scheduleFor(seed: number, length = 6): Step[] {
  const random = createRandom(seed);
  const steps: Step[] = [{ kind: 'feed', feed: feedFrom(random, false) }];
  let lateNodes = 0;
  while (steps.length <= length) {
    const kind = ACTIONS[Math.floor(random() * ACTIONS.length)]!;
    if (kind === 'late_node' && lateNodes++ > 0) continue;
    const large = kind === 'kill_leader_mid_publish' || kind === 'kill_follower_mid_batch';
    const feed = feedFrom(random, large);
    if (kind === 'broken_feed') {
      steps.push({ kind, feed, fault: random() < 0.5 ? 'truncate' : 'malformed' });
    } else if (kind === 'kill_nats_server') {
      steps.push({ kind, feed, server: Math.floor(random() * 3) });
    } else {
      steps.push({ kind, feed });
    }
  }
  return steps;
}

/** The seeds to run: `TRUTH_SEEDS` as a list ("7,8"), or "random:N" for N fresh ones. */
export function seedsToRun(setting: string | undefined, fallback: number[]): number[] {
  if (setting === undefined || setting === '') return fallback;
  const random = /^random:(\d+)$/.exec(setting);
  if (random) {
    return Array.from({ length: Number(random[1]) }, () => Math.floor(Math.random() * 2 ** 31));
  }
  return setting.split(',').map((s) => Number.parseInt(s, 10));
}
