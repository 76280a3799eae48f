import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { isRunning, processIdentity } from '../src/process-identity.js';

describe('process identity', () => {
  it('names a running process until it exits, and not a later one given the same pid', async () => {
    const child = spawn('sleep', ['30']);
    await once(child, 'spawn');
    const identity = processIdentity(child.pid!);
    expect(identity).toMatchObject({ pid: child.pid });
    expect(isRunning(identity!)).toBe(true);
    // The same pid started at another moment is another process.
    expect(isRunning({ pid: child.pid!, startTicks: identity!.startTicks! + 1 })).toBe(false);
    child.kill('SIGKILL');
    await once(child, 'exit');
    expect(isRunning(identity!)).toBe(false);
    expect(processIdentity(child.pid!)).toBeNull();
  });

  it("is this process's own by default, started before now", () => {
    const own = processIdentity();
    expect(own?.pid).toBe(process.pid);
    expect(own?.startTicks).toBeGreaterThan(0);
    expect(isRunning(own!)).toBe(true);
  });
});
