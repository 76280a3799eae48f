/** A one-line progress display for long `--once` ingests on a terminal. */
export function createProgress(out: NodeJS.WriteStream, everyMs = 500) {
  const started = performance.now();
  let last = 0;
  let shown = false;
  return {
    update({ bytes, events }: { bytes: number; events: number }): void {
      const now = performance.now();
      if (now - last < everyMs) return;
      last = now;
      shown = true;
      const seconds = (now - started) / 1000;
      const mb = bytes / 1024 / 1024;
      out.write(
        `\r${mb.toFixed(1)} MB  ${(mb / seconds).toFixed(1)} MB/s  ${events} events  ${Math.round(events / seconds)} events/s   `,
      );
    },
    done(): void {
      if (shown) out.write('\n');
    },
  };
}
