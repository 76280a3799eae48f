import cluster, { type Worker } from 'node:cluster';
import { EXIT_BOOT_FAILURE, type Service } from '@tessera/runtime';
import type { Logger } from 'pino';
// Types only: the primary loads prom-client when first asked for metrics, not before its first
// fork (see runPrimary).
import type { AggregatorRegistry, Registry, RegistryContentType } from 'prom-client';

const METRICS_REQUEST = 'tessera:metrics-request';
const METRICS_RESPONSE = 'tessera:metrics-response';

interface MetricsMessage {
  type: string;
  id: number;
  text?: string;
  error?: string;
}

export interface PrimaryOptions {
  workers: number;
  log: Logger;
}

/**
 * The cluster primary serves nothing and never opens the store itself: it forks the workers
 * that share the port, replaces a worker that dies unexpectedly, aggregates metrics across
 * workers for whichever worker was asked for /metrics, and stops the workers when stopped. A
 * worker that fails at boot (a bad store, say: it printed why) stops the whole API with the same
 * exit code instead of being forked again and again.
 *
 * The first worker is forked alone and the others once a worker listens. A worker spends most
 * of its start loading modules; forked together, the workers share the cores while they do, and
 * the first answer waits for both. Alone, the first one starts about as fast as a single process,
 * and the others start while it already serves (docs/benchmarks-notes.md has the figures).
 */
export function runPrimary({ workers, log }: PrimaryOptions): Service {
  let aggregator: Promise<AggregatorRegistry<RegistryContentType>> | undefined;
  let stopping = false;
  let othersForked = false;
  const recentDeaths: number[] = [];
  const { promise: done, reject: failed } = Promise.withResolvers<number>();

  const fork = (): Worker => {
    const worker = cluster.fork();
    worker.on('message', (message: MetricsMessage) => {
      if (message?.type !== METRICS_REQUEST) return;
      aggregator ??= import('prom-client').then(
        ({ AggregatorRegistry }) => new AggregatorRegistry(),
      );
      aggregator
        .then((registry) => registry.clusterMetrics())
        .then(
          (text) => worker.send({ type: METRICS_RESPONSE, id: message.id, text }),
          (error: Error) =>
            worker.send({ type: METRICS_RESPONSE, id: message.id, error: error.message }),
        );
    });
    return worker;
  };

  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    if (code === EXIT_BOOT_FAILURE) {
      stopping = true;
      stopWorkers().then(() => process.exit(EXIT_BOOT_FAILURE));
      return;
    }
    const now = Date.now();
    recentDeaths.push(now);
    while (recentDeaths.length > 0 && recentDeaths[0]! < now - 60_000) recentDeaths.shift();
    log.error({ worker: worker.process.pid, code, signal }, 'api worker died');
    if (recentDeaths.length > workers * 5) {
      failed(new Error('api workers keep dying; giving up'));
      return;
    }
    fork();
  });

  cluster.on('listening', () => {
    if (othersForked || stopping) return;
    othersForked = true;
    for (let i = 1; i < workers; i++) fork();
  });
  fork();
  log.info({ workers }, 'api primary started');

  const stopWorkers = (): Promise<void> => {
    const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    return new Promise((resolve) => {
      let remaining = alive.length;
      if (remaining === 0) resolve();
      for (const worker of alive) {
        worker.once('exit', () => {
          if (--remaining === 0) resolve();
        });
        worker.process.kill('SIGTERM');
      }
    });
  };

  return {
    done,
    async stop() {
      stopping = true;
      log.info('api primary stopping workers');
      await stopWorkers();
    },
  };
}

/** In a worker: /metrics asks the primary for every worker's metrics, aggregated. */
export async function clusterMetricsRenderer(registry: Registry): Promise<() => Promise<string>> {
  // Registers the worker's side of prom-client's aggregation protocol.
  const { AggregatorRegistry } = await import('prom-client');
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  let next = 0;
  const pending = new Map<
    number,
    { resolve: (text: string) => void; reject: (e: Error) => void }
  >();
  process.on('message', (message: MetricsMessage) => {
    if (message?.type !== METRICS_RESPONSE) return;
    const waiter = pending.get(message.id);
    if (waiter === undefined) return;
    pending.delete(message.id);
    if (message.text !== undefined) waiter.resolve(message.text);
    else waiter.reject(new Error(message.error ?? 'metrics aggregation failed'));
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve, reject });
      process.send?.({ type: METRICS_REQUEST, id });
      setTimeout(() => {
        if (pending.delete(id)) reject(new Error('metrics aggregation timed out'));
      }, 5_000).unref();
    });
}
