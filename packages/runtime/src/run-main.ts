import {
  type CommandLine,
  type CommandLineSpec,
  parseCommandLine,
  UsageError,
  usageLine,
} from './command-line.js';

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
  /**
   * The app's command line: `--help` and `--version` are answered (stdout, exit 0) before
   * `start` runs, so that they touch neither the store nor the network; anything the spec does
   * not know exits 2 with the usage line.
   */
  cli?: CommandLineSpec;
  argv?: readonly string[];
  stderr?: NodeJS.WritableStream;
}

/**
 * The one ending of every app's main.ts: starts the service, stops it cleanly on SIGTERM or
 * SIGINT (a second signal is ignored while stopping), and turns a failure into one line on
 * stderr and a non-zero exit code, never a stack trace.
 */
export function runMain(
  name: string,
  start: (commandLine: CommandLine) => Promise<Service>,
  options: RunMainOptions = {},
): void {
  const stderr = options.stderr ?? process.stderr;
  let commandLine: CommandLine = { command: undefined, argument: undefined, flags: new Map() };
  if (options.cli !== undefined) {
    try {
      const parsed = parseCommandLine(options.argv ?? process.argv.slice(2), options.cli);
      if (parsed.kind === 'print') {
        process.stdout.write(parsed.text, () => process.exit(0));
        return;
      }
      commandLine = parsed.commandLine;
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      stderr.write(`${name}: ${error.message}\n${usageLine(options.cli)}\n`);
      process.exit(EXIT_BOOT_FAILURE);
    }
  }
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

  start(commandLine).then((running) => {
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
