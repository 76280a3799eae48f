import { readFileSync } from 'node:fs';

/**
 * This process's peak resident memory, in bytes. On Linux it is the kernel's high-water mark of
 * this process's own memory (VmHWM). Not `process.resourceUsage().maxRSS`: Linux carries
 * ru_maxrss across execve from the forked copy of the parent, so a process started by a large
 * parent (the benchmark, a test runner) reports the parent's size however little it used.
 */
export function peakRssBytes(): number {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm?.[1] !== undefined) return Number(hwm[1]) * 1024;
  } catch {
    // Not Linux: getrusage is the best there is.
  }
  return process.resourceUsage().maxRSS * 1024;
}
