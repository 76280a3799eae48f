import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/**
 * CPU seconds (user + system) used so far by a process and every process below it (an API's
 * node:cluster workers), from /proc. On a shared VM a server's CPU per request moves much less
 * than its requests per second, which also count the time a neighbour had the core.
 */
export function treeCpuSeconds(pid: number): number {
  let ticks = 0;
  const visit = (p: number): void => {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${p}/stat`, 'utf8');
    } catch {
      return; // gone meanwhile
    }
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
    for (const task of readdirSync(`/proc/${p}/task`, { withFileTypes: true })) {
      let children = '';
      try {
        children = readFileSync(`/proc/${p}/task/${task.name}/children`, 'utf8');
      } catch {}
      for (const child of children.trim().split(/\s+/).filter(Boolean)) visit(Number(child));
    }
  };
  visit(pid);
  return ticks / TICKS_PER_SECOND;
}
