import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { type BackoffPolicy, backoffDelay } from './backoff.js';
import { type PollDeps, type PollReport, pollFeed } from './feed-poll.js';
import { STORE_FAILURE_CODES } from './ingest-error.js';

/** What one poll needs, plus the schedule. */
export interface FeedLoopDeps extends PollDeps {
  pollIntervalMs: number;
  backoff: BackoffPolicy;
  /** Consecutive polls failed by the store after which `run()` gives up (see docs/operating.md). */
  storeFailureLimit: number;
  random?: () => number;
}

export interface FeedLoop {
  /** One poll, logged; resolves with its report. Never two at once. */
  pollOnce(): Promise<PollReport>;
  /**
   * Polls until stop(): every interval after a success, with backoff after failures. Rejects
   * after `storeFailureLimit` consecutive store failures: a wedged store does not heal by
   * retrying, and the process exiting is what makes a supervisor restart it.
   */
  run(): Promise<void>;
  /** Stops polling; an in-flight poll is aborted (its transaction, if begun, completes). */
  stop(): Promise<void>;
  /**
   * An operator's "poll now": the loop's wait ends and it polls at once (a poll already in
   * flight is that poll). False when paused: a paused feed is polled by no one.
   */
  pollNow(): boolean;
  /** Stops polling after the poll in flight, if any, until resume(); the loop keeps waiting. */
  pause(): void;
  resume(): void;
  readonly paused: boolean;
}

export function createFeedLoop(deps: FeedLoopDeps, options: { paused?: boolean } = {}): FeedLoop {
  const stopping = new AbortController();
  let current: Promise<PollReport> | undefined;
  let running: Promise<void> | undefined;
  let failures = 0;
  let storeFailures = 0;
  let paused = options.paused ?? false;
  // Ends the loop's current wait early (poll now, resume); replaced after each wait.
  let wake = new AbortController();

  /** Waits `ms` (until woken, when undefined), or until woken or stopped. */
  const wait = async (ms: number | undefined): Promise<void> => {
    const signal = AbortSignal.any([stopping.signal, wake.signal]);
    try {
      // Already woken (a resume, say, before this wait began): an abort event will not come.
      if (signal.aborted) throw signal.reason;
      if (ms === undefined) {
        await new Promise((_, reject) => signal.addEventListener('abort', reject, { once: true }));
      } else {
        await sleep(ms, undefined, { signal });
      }
    } catch {
      // Woken or stopped: the loop decides which.
    }
    if (wake.signal.aborted) wake = new AbortController();
  };

  const pollOnce = (): Promise<PollReport> => {
    if (current !== undefined) return current;
    current = pollFeed(deps, stopping.signal)
      .then((report) => {
        logReport(deps.log, report);
        failures = report.outcome === 'failed' ? failures + 1 : 0;
        const storeFailed = report.error !== null && STORE_FAILURE_CODES.has(report.error.code);
        storeFailures = storeFailed ? storeFailures + 1 : 0;
        return report;
      })
      .finally(() => {
        current = undefined;
      });
    return current;
  };

  const loop = async (): Promise<void> => {
    while (!stopping.signal.aborted) {
      if (paused) {
        await wait(undefined);
        continue;
      }
      const report = await pollOnce();
      if (stopping.signal.aborted) break;
      if (storeFailures >= deps.storeFailureLimit) {
        deps.log.fatal({ storeFailures }, 'the store keeps failing; giving up');
        throw new Error(
          `the store failed ${storeFailures} polls in a row (last: ${report.error?.code}: ${report.error?.message})`,
        );
      }
      const delay =
        report.outcome === 'failed'
          ? backoffDelay(deps.backoff, failures, report.retryAfterMs, deps.random)
          : deps.pollIntervalMs;
      if (report.outcome === 'failed') deps.log.info({ retryInMs: delay, failures }, 'backing off');
      await wait(delay);
    }
  };

  return {
    pollOnce,
    run() {
      running ??= loop();
      return running;
    },
    async stop() {
      stopping.abort();
      await current?.catch(() => {});
      await running?.catch(() => {}); // a run that gave up has said so to whoever awaited run()
    },
    pollNow() {
      if (paused) return false;
      // A poll in flight is the one asked for; waking the wait after it would poll twice.
      if (current === undefined) wake.abort();
      return true;
    },
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      wake.abort();
    },
    get paused() {
      return paused;
    },
  };
}

function logReport(log: Logger, report: PollReport): void {
  const line = {
    outcome: report.outcome,
    bytes: report.bytes,
    durationMs: report.durationMs,
    events: report.events,
    counts: report.counts,
    rejected: report.rejected,
    rejectedFields: Object.fromEntries(
      Object.entries(report.faults).map(([field, faults]) => [field, faults.count]),
    ),
    offline: report.offline,
    error: report.error,
  };
  if (report.outcome === 'failed') log.warn(line, `poll failed: ${report.error?.code}`);
  else log.info(line, `poll ${report.outcome}`);
}

/** The one-line summary printed by `--once` (`--once --json` prints the report itself). */
export function formatSummary(report: PollReport, peakRssMb: number): string {
  const mib = (report.bytes / 1024 / 1024).toFixed(2);
  const rejected = Object.entries(report.rejected)
    .map(([code, n]) => `${code}=${n}`)
    .join(',');
  const c = report.counts;
  const counts =
    c === null
      ? 'none'
      : `inserted=${c.inserted} updated=${c.updated} moved=${c.moved} unchanged=${c.unchanged}`;
  const error =
    report.error === null ? '' : ` error=${report.error.code} (${report.error.message})`;
  return `${report.outcome}: ${mib} MiB, events ${counts}, rejected ${rejected === '' ? 0 : rejected}, offline ${report.offline}, ${report.durationMs} ms, peak RSS ${peakRssMb} MiB${error}`;
}
