import { readFileSync } from 'node:fs';

/**
 * A process as the kernel knows it: its pid, and when it started (clock ticks since boot, field
 * 22 of /proc/<pid>/stat), which tells a process from a later one given the same pid.
 */
export interface ProcessIdentity {
  pid: number;
  /** Null where /proc cannot be read (not Linux): then the pid alone identifies it. */
  startTicks: number | null;
}

/** This process's identity (or another's, by pid: null when no such process exists). */
export function processIdentity(pid: number = process.pid): ProcessIdentity | null {
  const startTicks = startTicksOf(pid);
  if (startTicks !== undefined) return { pid, startTicks };
  return isAlive(pid) ? { pid, startTicks: null } : null;
}

/**
 * Whether the process `identity` names is still running: the same pid, started at the same
 * tick. Only processes in this process's PID namespace can be seen.
 */
export function isRunning(identity: ProcessIdentity): boolean {
  const now = processIdentity(identity.pid);
  if (now === null) return false;
  return (
    identity.startTicks === null ||
    now.startTicks === null ||
    now.startTicks === identity.startTicks
  );
}

function startTicksOf(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: fields count from its end.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[19]);
  return Number.isFinite(ticks) ? ticks : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
