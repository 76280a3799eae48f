import { ApiError } from './api-error.js';

export interface ScanBudgetOptions {
  /** Scans allowed past their first slice at once (each holds a snapshot, a reader slot, a body). */
  concurrency: number;
  /** Events scanned per second, sustained; a second's worth may be spent at once. */
  eventsPerSecond: number;
  now?: () => number;
}

/** A long scan's hold on the budget: charge what it reads, release it when its answer is sent. */
export interface ScanSlot {
  charge(events: number): void;
  release(): void;
}

/**
 * Admission control for uncached /search work, per process. Every uncached scan may read one
 * slice (a small window's whole answer) at once; going further needs a slot, and slots are
 * handed out only while fewer than `concurrency` are held and the token bucket of events is not
 * empty. Past that the request is refused at once (`overloaded`, with Retry-After): never
 * queued, so a flood of expensive windows costs one slice each and delays no one for long.
 */
export function createScanBudget(options: ScanBudgetOptions) {
  const now = options.now ?? Date.now;
  const burst = options.eventsPerSecond;
  let tokens = burst;
  let refilledAt = now();
  let held = 0;

  const refill = (): void => {
    const at = now();
    tokens = Math.min(burst, tokens + ((at - refilledAt) * options.eventsPerSecond) / 1000);
    refilledAt = at;
  };

  return {
    /** Tokens spent by a first slice, which needs no slot. */
    charge(events: number): void {
      tokens -= events;
    },

    /** A slot for a scan that goes on past its first slice; throws `overloaded` if none is free. */
    acquire(): ScanSlot {
      refill();
      if (held >= options.concurrency || tokens <= 0) {
        const deficitMs = tokens > 0 ? 0 : (-tokens / options.eventsPerSecond) * 1000;
        throw new ApiError('overloaded', 'too many large searches at once; retry shortly', {
          retryAfterSeconds: Math.max(1, Math.ceil(deficitMs / 1000)),
        });
      }
      held++;
      let released = false;
      return {
        charge(events) {
          tokens -= events;
        },
        release() {
          if (released) return;
          released = true;
          held--;
        },
      };
    },

    held: () => held,
  };
}

export type ScanBudget = ReturnType<typeof createScanBudget>;
