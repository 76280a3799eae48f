import { execFileSync } from 'node:child_process';
import { type RunningProcess, startApp, startProcess, waitUntil } from '@tessera/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { SEED_WINDOW, System } from './system.js';

/**
 * LMDB's lock file names its readers by PID, and checks that they live with kill(pid, 0): every
 * process that opens the store must see the others' PIDs, and no two may share one. Two
 * containers with PID namespaces of their own break both (each runs node as PID 1). These tests
 * recreate the container layouts with `unshare` and `nsenter` (root, as CI runs): the hazard,
 * and the layout docker-compose.yml uses, one PID namespace held by a process of its own that
 * both Tessera processes join, as containers do with `pid: "service:pod"`.
 */
let system: System | undefined;
const extra: RunningProcess[] = [];
const holders: RunningProcess[] = [];
afterEach(async () => {
  // The Tessera processes first, cleanly; then the namespace holders, which take with them
  // whatever is left in their namespace.
  await system?.stopAll();
  for (const p of extra.splice(0)) await p.stop();
  for (const holder of holders.splice(0)) {
    holder.signal('SIGKILL');
    await holder.exited;
  }
  await system?.dispose();
  system = undefined;
});

/** A new PID namespace held by a sleeping process, as the compose file's `pod` service holds one. */
async function podNamespace(): Promise<string[]> {
  // --kill-child: when the holder goes, its namespace goes, and every process in it.
  const holder = startProcess('unshare', [
    '--pid',
    '--fork',
    '--mount-proc',
    '--kill-child',
    'sleep',
    '3600',
  ]);
  holders.push(holder);
  const pid = await waitUntil(
    () => {
      try {
        return execFileSync('pgrep', ['-P', String(holder.child.pid)])
          .toString()
          .trim();
      } catch {
        return '';
      }
    },
    { what: 'the namespace holder' },
  );
  return ['nsenter', '--target', pid, '--pid', '--'];
}

/** A PID namespace of its own, as a container without a shared PID namespace has. */
const ownNamespace = ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child'];

/** A generated feed that changes on every poll, polled without pause: the ingestor always writes. */
async function busyIngestor(wrapper: readonly string[]): Promise<RunningProcess> {
  await system!.startSim({
    kind: 'generated',
    bases: 1_500,
    eventsPerBase: 2,
    zonesPerEvent: 20,
    seed: 1,
    evolve: true,
  });
  const ingestor = startApp('ingestor', system!.ingestorEnv({ POLL_INTERVAL_MS: '1' }), [], {
    wrapper,
    group: true,
  });
  system!.ingestor = ingestor;
  await ingestor.waitForOutput(/"msg":"poll applied"/, 30_000);
  return ingestor;
}

const applied = (ingestor: RunningProcess) =>
  ingestor.logs().filter((line) => line.msg === 'poll applied').length;

describe('the store across PID namespaces', () => {
  it('the hazard: an API in a PID namespace of its own cannot read a store the ingestor reads as PID 1 of another', async () => {
    system = new System();
    await busyIngestor(ownNamespace);
    const api = startApp(
      'api',
      { PORT: '0', HOST: '127.0.0.1', DATA_DIR: system.dataDir, API_WORKERS: '1' },
      [],
      { wrapper: ownNamespace, group: true },
    );
    extra.push(api);
    expect(await api.exited).not.toBe(0);
    expect(api.output()).toMatch(/cannot open the store at .+: /);
  });

  it.each(['1', '2'])(
    'the supported layout: one shared PID namespace serves while the ingestor writes (API_WORKERS=%s)',
    async (workers) => {
      system = new System();
      const pod = await podNamespace();
      const ingestor = await busyIngestor(pod);
      system.api = undefined;
      await system.startApi({ API_WORKERS: workers }, { wrapper: pod, group: true });
      const before = applied(ingestor);
      const started = Date.now();
      let answers = 0;
      while (applied(ingestor) < before + 3 || Date.now() - started < 2_000) {
        const events = await system.search(SEED_WINDOW);
        expect(events.length).toBeGreaterThan(0);
        answers++;
        if (Date.now() - started > 60_000) throw new Error('the ingestor stopped applying feeds');
      }
      expect(answers).toBeGreaterThan(10);
      expect((await system.ready()).events).toBeGreaterThan(0);
    },
  );
});
