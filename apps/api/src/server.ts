import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';

export interface RunningServer {
  readonly server: Server;
  readonly port: number;
  /** Stops accepting, lets in-flight requests finish (up to graceMs), then closes the rest. */
  close(graceMs: number): Promise<void>;
}

export async function startServer(app: Koa, port: number, host: string): Promise<RunningServer> {
  let closing = false;
  const handle = app.callback();
  const server = createServer((req, res) => {
    // Keep-alive clients are told to reconnect elsewhere once shutdown has begun.
    if (closing) res.setHeader('Connection', 'close');
    void handle(req, res);
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    async close(graceMs) {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      timer.unref();
      await closed;
      clearTimeout(timer);
    },
  };
}
