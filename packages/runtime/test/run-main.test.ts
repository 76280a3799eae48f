import { fileURLToPath } from 'node:url';
import { startNode } from '@tessera/testkit';
import { describe, expect, it } from 'vitest';

const SERVICE = fileURLToPath(new URL('./processes/service.mjs', import.meta.url));
const run = (mode: string) => startNode(SERVICE, [mode]);

describe('runMain', () => {
  it('stops the service on SIGTERM and exits 0', async () => {
    const service = run('daemon');
    await service.waitForOutput(/started/);
    service.signal('SIGTERM');
    expect(await service.exited).toBe(0);
    expect(service.output()).toBe('started\nstopped\n');
  });

  it('ignores a second signal while stopping', async () => {
    const service = run('daemon');
    await service.waitForOutput(/started/);
    service.signal('SIGINT');
    service.signal('SIGTERM');
    expect(await service.exited).toBe(0);
    expect(service.output().match(/stopped/g)).toHaveLength(1);
  });

  it('prints a readable boot error as its one line and exits 2', async () => {
    const service = run('boot-error');
    expect(await service.exited).toBe(2);
    expect(service.output()).toBe('invalid setting PORT: too big\n');
  });

  it('prints any other boot failure as one line without a stack', async () => {
    const service = run('boot-bug');
    expect(await service.exited).toBe(2);
    expect(service.output()).toBe('demo cannot start: x is not a function\n');
  });

  it('exits with the code a finished service gives, or 1 when it fails at run time', async () => {
    expect(await run('once').exited).toBe(7);
    const fatal = run('fatal');
    expect(await fatal.exited).toBe(1);
    expect(fatal.output()).toBe('started\ndemo failed: the store failed 5 polls in a row\n');
  });
});
