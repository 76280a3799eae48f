import type { Service } from '@tessera/runtime';
import type { BackupReport } from '@tessera/store';

const MIB = 1024 ** 2;

/**
 * `backup <dir>`: one copy, its result on stdout (a line, or one JSON document with --json),
 * exit 0; a failure is the one line runMain prints, exit 1. Touches no network.
 */
export function runBackup(
  backup: () => Promise<BackupReport>,
  target: string,
  json: boolean,
): Service {
  const done = backup().then((report) => {
    process.stdout.write(
      json
        ? `${JSON.stringify(report)}\n`
        : `backed up ${report.events} events (store ${report.head.storeId}, version ${report.head.version}, ${(report.bytes / MIB).toFixed(1)} MiB) into ${target}\n`,
    );
    return 0;
  });
  return { done, stop: () => done.then(() => undefined) };
}
