const MIB = 1024 ** 2;

/**
 * A one-line progress display for long `--once` ingests on a terminal (stderr, beside the logs):
 * redrawn at most every `everyMs`, and erased before any log line is written (see `logStream`)
 * and drawn again after it, so that no log line is ever appended to it.
 */
export function createProgress(out: NodeJS.WriteStream, everyMs = 500) {
  const started = performance.now();
  let last = 0;
  let line = '';
  const erase = (): void => {
    if (line !== '') out.write('\r\x1b[K');
  };
  return {
    update({ bytes, events }: { bytes: number; events: number }): void {
      const now = performance.now();
      if (now - last < everyMs) return;
      last = now;
      const seconds = (now - started) / 1000;
      const mib = bytes / MIB;
      erase();
      line = `${mib.toFixed(1)} MiB  ${(mib / seconds).toFixed(1)} MiB/s  ${events} events  ${Math.round(events / seconds)} events/s`;
      out.write(line);
    },
    /** Where log lines go while the progress line is shown: around it, never after it. */
    logStream: {
      write(chunk: string): void {
        erase();
        out.write(chunk);
        if (line !== '') out.write(line);
      },
    },
    done(): void {
      erase();
      line = '';
    },
  };
}
