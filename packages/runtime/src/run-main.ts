/** A running process's work, as `runMain` drives it. */
export interface Service {
  /**
   * Settles when the service ends by itself: resolves with the exit code (a `--once` run), or
   * rejects with the fatal error that stopped it. Never settling is fine for a daemon.
   */
  readonly done?: Promise<number>;
  /** Stops on SIGTERM or SIGINT; the process exits 0 once this resolves. */
  stop(): Promise<void>;
}

/** An error whose message is already the one line to print: a bad setting, an unusable store. */
export class BootError extends Error {
  override readonly name = 'BootError';
}

/** Exit codes: 1 for a failure at run time (or a failed `--once`), 2 for a failure at boot. */
export const EXIT_FAILURE = 1;
export const EXIT_BOOT_FAILURE = 2;

export interface RunMainOptions {
  /** Errors that are readable as they are (settings, store): printed without a stack. */
  isReadable?: (error: unknown) => boolean;
  stderr?: NodeJS.WritableStream;
}

/**
 * The one ending of every app's main.ts: starts the service, stops it cleanly on SIGTERM or
 * SIGINT (a second signal is ignored while stopping), and turns a failure into one line on
 * stderr and a non-zero exit code, never a stack trace.
 */
export function runMain(
  name: string,
  start: () => Promise<Service>,
  options: RunMainOptions = {},
): void {
  const stderr = options.stderr ?? process.stderr;
  let service: Service | undefined;
  let stopping = false;
  let booted = false;

  const fail = (error: unknown): void => {
    const readable = error instanceof BootError || options.isReadable?.(error) === true;
    const message = error instanceof Error ? error.message : String(error);
    const line =
      readable && !booted ? message : `${name} ${booted ? 'failed' : 'cannot start'}: ${message}`;
    stderr.write(`${line.split('\n')[0]}\n`);
    process.exit(booted ? EXIT_FAILURE : EXIT_BOOT_FAILURE);
  };

  const onSignal = (): void => {
    if (stopping) return;
    stopping = true;
    if (service === undefined) process.exit(0);
    service.stop().then(() => process.exit(0), fail);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  start().then((running) => {
    booted = true;
    service = running;
    if (stopping) {
      running.stop().then(() => process.exit(0), fail);
      return;
    }
    running.done?.then((code) => {
      if (!stopping) process.exit(code);
    }, fail);
  }, fail);
}
