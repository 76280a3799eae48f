import { waitUntil } from '@tessera/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { SEED_WINDOW, System } from './system.js';

let system: System | undefined;
afterEach(async () => {
  await system?.stopAll();
  await system?.dispose();
  system = undefined;
});

describe('process lifecycle', () => {
  it('restarts with the same data and ids, and answers while the provider is down', async () => {
    system = new System();
    await system.startSim({ kind: 'fixtures', vocabulary: 'plan' });
    await system.startApi();
    system.startIngestor();
    await waitUntil(async () => (await system!.simState()).feedsServed >= 3, {
      what: 'three feeds',
    });
    await waitUntil(async () => (await system!.search(SEED_WINDOW)).length === 4, {
      what: 'four events',
    });
    // The partner's answers rotate and their values differ, so the store is only still once the
    // ingestor has stopped: that is the state the restart must serve.
    expect(await system.ingestor?.stop()).toBe(0);
    const before = await system.search(SEED_WINDOW);
    expect(await system.api?.stop()).toBe(0);
    expect(await system.sim?.stop()).toBe(0);

    // The provider is gone; the API comes back on the same store and serves the same bytes.
    await system.startApi();
    system.startIngestor({ PROVIDER_URL: 'http://127.0.0.1:1/api/events' });
    expect(await system.search(SEED_WINDOW)).toEqual(before);
    await waitUntil(async () => (await system!.ready()).consecutive_failures >= 2, {
      what: 'failed polls',
    });
    const ready = await system.ready();
    expect(ready.last_error_code).toBe('provider_unreachable');
    expect(ready.last_success_at).not.toBeNull();
    expect(await system.search(SEED_WINDOW)).toEqual(before);
  });

  it('SIGTERM shuts the ingestor and every API process down cleanly', async () => {
    system = new System();
    await system.startSim({ kind: 'fixtures', vocabulary: 'plan' });
    await system.startApi({ API_WORKERS: '2' });
    system.startIngestor();
    await waitUntil(async () => (await system!.ready()).events > 0, { what: 'data' });
    // The primary forks the second worker once the first listens: both must be serving.
    await waitUntil(
      () => system!.api!.logs().filter((l) => l.msg === 'api listening').length === 2,
      {
        what: 'both API workers listening',
      },
    );
    const started = Date.now();
    const [ingestorCode, apiCode] = await Promise.all([
      system.ingestor!.stop(),
      system.api!.stop(),
    ]);
    expect(ingestorCode).toBe(0);
    expect(apiCode).toBe(0);
    expect(Date.now() - started).toBeLessThan(5_000);
    const logs = system.api!.logs();
    expect(logs.filter((l) => l.msg === 'api stopped')).toHaveLength(2);
    expect(system.ingestor!.logs().some((l) => l.msg === 'stopped')).toBe(true);
  });
});
