import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { listenError } from '@tessera/runtime';
import type { TesseraApp } from './app.js';
import { refuseConnect, refuseUnparsed, writeRefusal } from './parser-refusal.js';

/** How long a connection may take at each stage; see docs/configuration.md. */
export interface ServerTimeouts {
  /** From a request's first byte to the end of its headers (slow-header clients). */
  headersMs: number;
  /** From a request's first byte to the end of its body. */
  requestMs: number;
  /** An idle keep-alive connection between requests. */
  keepAliveMs: number;
  /**
   * A connection on which nothing moves while a request is being answered: a client that stops
   * reading is cut off, freeing its response's memory, scan and reader slot.
   */
  idleMs: number;
}

export interface RunningServer {
  readonly server: Server;
  readonly port: number;
  /** Stops accepting, lets in-flight requests finish (up to graceMs), then closes the rest. */
  close(graceMs: number): Promise<void>;
}

/** Listens, or throws the one line a boot failure prints (`cannot listen on host:port: why`). */
export async function listenOn(server: Server, port: number, host: string): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    throw listenError(error, host, port);
  }
}

/**
 * Tries the address before workers are forked (they share the primary's listening handle, and
 * each would print the same failure): one line, once.
 */
export async function probeListen(port: number, host: string): Promise<void> {
  const probe = createServer();
  await listenOn(probe, port, host);
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}

export async function startServer(
  app: Pick<TesseraApp, 'callback' | 'routes'>,
  port: number,
  host: string,
  timeouts: ServerTimeouts,
): Promise<RunningServer> {
  let closing = false;
  const handle = app.callback();
  // A missing Host is refused by the app, with the envelope (Node's own refusal has no body).
  const server = createServer(
    {
      requireHostHeader: false,
      // Node looks for requests past headersTimeout/requestTimeout every 30 s by default, so a
      // slow client could hold a connection half a minute past its limit; once a second instead.
      connectionsCheckingInterval: Math.min(1_000, timeouts.headersMs),
    },
    (req, res) => {
      // Keep-alive clients are told to reconnect elsewhere once shutdown has begun.
      if (closing) res.setHeader('Connection', 'close');
      void handle(req, res);
    },
  );
  // Requests Node's parser refuses, and CONNECT, which it hands over as a raw socket: answered
  // like every other request, then closed (see parser-refusal.ts).
  server.on('clientError', (error: Error & { code?: string }, socket: Duplex) => {
    // A reset peer is gone, and an answer already under way cannot be followed by another.
    const busy = (socket as { _httpMessage?: unknown })._httpMessage != null;
    if (error.code === 'ECONNRESET' || !socket.writable || busy) {
      socket.destroy();
      return;
    }
    writeRefusal(socket, refuseUnparsed(error, app.routes));
  });
  server.on('connect', (_req, socket: Duplex) => writeRefusal(socket, refuseConnect(app.routes)));
  server.headersTimeout = timeouts.headersMs;
  server.requestTimeout = timeouts.requestMs;
  server.keepAliveTimeout = timeouts.keepAliveMs;
  // Inactivity while a request is answered (keepAliveTimeout takes over between requests). Node
  // only reports it: destroying the socket is what frees the response's body, scan and slot.
  server.timeout = timeouts.idleMs;
  server.on('timeout', (socket: Socket) => socket.destroy());
  await listenOn(server, port, host);
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
