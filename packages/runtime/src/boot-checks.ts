import { statSync } from 'node:fs';
import { BootError } from './run-main.js';

/**
 * A data directory setting that names something other than a directory stops the process at
 * boot: a reader would otherwise serve an empty store forever, a writer fail on every poll.
 * A path that does not exist yet is fine (the writer creates it).
 */
export function checkDirectorySetting(name: string, path: string): void {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new BootError(
      `invalid setting ${name}: ${path} cannot be read (${(error as Error).message})`,
    );
  }
  if (!isDirectory)
    throw new BootError(`invalid setting ${name}: ${path} exists and is not a directory`);
}

const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'address in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'address not available on this machine',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'host name cannot be resolved now',
};

/** A failed listen, as the one line a boot failure prints (`cannot listen on host:port: why`). */
export function listenError(error: unknown, host: string, port: number): Error {
  const code = (error as NodeJS.ErrnoException)?.code;
  const why =
    (code !== undefined && LISTEN_ERRORS[code]) || (error as Error)?.message || String(error);
  const where = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return new BootError(`cannot listen on ${where}: ${why}`, { cause: error });
}
