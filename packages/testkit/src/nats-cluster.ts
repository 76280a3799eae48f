import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningProcess, startProcess } from './child-process.js';
import { freePort } from './free-port.js';

export interface NatsServer {
  readonly name: string;
  readonly url: string;
  process: RunningProcess;
}

export interface NatsCluster {
  readonly servers: NatsServer[];
  /** Every client URL, comma-separated: a NATS_URL. */
  readonly url: string;
  /** kill -9 of one server. */
  kill(index: number): Promise<void>;
  /** Starts a stopped or killed server again, on its ports and with its data. */
  restart(index: number): Promise<void>;
  stop(index: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A JetStream cluster of `size` real nats-server processes on free loopback ports, each with its
 * own store directory in a temp dir (Debian's `nats-server`, which `make test` installs).
 */
export async function startNatsCluster(
  size = 3,
  options: { maxPayloadBytes?: number } = {},
): Promise<NatsCluster> {
  const root = mkdtempSync(join(tmpdir(), 'tessera-nats-'));
  // A smaller largest message than the default 1 MiB makes a test's batches many parts.
  const config = join(root, 'server.conf');
  writeFileSync(
    config,
    options.maxPayloadBytes === undefined ? '' : `max_payload: ${options.maxPayloadBytes}\n`,
  );
  const ports = await Promise.all(
    Array.from({ length: size }, async () => ({
      client: await freePort(),
      route: await freePort(),
    })),
  );
  const routes = ports.map((p) => `nats://127.0.0.1:${p.route}`).join(',');
  const spawn = (i: number): RunningProcess =>
    startProcess('nats-server', [
      '-c',
      config,
      '-js',
      '-sd',
      join(root, `n${i}`),
      '-a',
      '127.0.0.1',
      '-p',
      String(ports[i]!.client),
      '-n',
      `n${i}`,
      '--cluster_name',
      'tessera',
      '--cluster',
      `nats://127.0.0.1:${ports[i]!.route}`,
      '--routes',
      routes,
    ]);
  const servers: NatsServer[] = ports.map((p, i) => ({
    name: `n${i}`,
    url: `nats://127.0.0.1:${p.client}`,
    process: spawn(i),
  }));
  await Promise.all(servers.map((s) => s.process.waitForOutput(/Server is ready/, 20_000)));
  // JetStream is usable once the cluster has elected its meta leader.
  await Promise.all(
    servers.map((s) =>
      s.process
        .waitForOutput(
          /JetStream cluster new metadata leader|Self is new JetStream cluster metadata leader/,
          20_000,
        )
        .catch(() => undefined),
    ),
  );
  return {
    servers,
    url: servers.map((s) => s.url).join(','),
    async kill(i) {
      servers[i]!.process.signal('SIGKILL');
      await servers[i]!.process.exited;
    },
    async stop(i) {
      await servers[i]!.process.stop();
    },
    async restart(i) {
      servers[i]!.process = spawn(i);
      await servers[i]!.process.waitForOutput(/Server is ready/, 20_000);
    },
    async close() {
      await Promise.all(servers.map((s) => s.process.stop()));
      rmSync(root, { recursive: true, force: true });
    },
  };
}
