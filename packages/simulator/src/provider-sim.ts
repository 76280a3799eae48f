import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CONTROL_PREFIX, EXTERNAL_ENTITY_PATH, handleControl } from './control-api.js';
import { type FaultPlan, FaultScript } from './fault-plan.js';
import { sendFeed } from './feed-response.js';
import { createSourceCursor, type ParsedSource, type Source } from './source.js';

export const FEED_PATH = '/api/events';

export interface ProviderSimOptions {
  source?: Source;
  plan?: FaultPlan;
  /** gzip full responses to clients that accept it. */
  compress?: boolean;
  /** Send ETags and answer If-None-Match with 304 (default); off, every poll gets the body. */
  conditional?: boolean;
}

export interface ProviderSimState {
  /** Every request, the control API's included. */
  requests: number;
  /** Requests for the feed alone: what a partner would count of an ingestor's polls. */
  feedRequests: number;
  feedsServed: number;
  externalEntityHits: number;
  /** Responses waiting at a `hold` fault for `release()`. */
  held: number;
  source: ParsedSource;
  remainingSteps: number;
}

export interface ProviderSim {
  readonly server: Server;
  /** The feed URL, once listening. */
  url(): string;
  listen(port?: number, host?: string): Promise<string>;
  setPlan(plan: FaultPlan): void;
  setSource(source: Source): void;
  /** Lets every response held by a `hold` fault go on. */
  release(): void;
  state(): ProviderSimState;
  close(): Promise<void>;
}

/** The partner stand-in: plain node:http, one feed path and a small control API. */
export function createProviderSim(options: ProviderSimOptions = {}): ProviderSim {
  const script = new FaultScript(options.plan);
  const cursor = createSourceCursor(options.source ?? { kind: 'fixtures' });
  let requests = 0;
  let feedRequests = 0;
  let externalEntityHits = 0;
  let held = 0;
  let release = (): void => {};
  let releasing = new Promise<void>((resolve) => {
    release = resolve;
  });
  let base = '';

  const server = createServer((req, res) => {
    requests++;
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === FEED_PATH) feedRequests++;
    const work =
      path === FEED_PATH && (req.method === 'GET' || req.method === 'HEAD')
        ? sendFeed(req, res, cursor.current(), script.next(), {
            vocabulary: cursor.vocabulary,
            compress: options.compress === true,
            conditional: options.conditional !== false,
            externalEntityUrl: `${base}${EXTERNAL_ENTITY_PATH}`,
            released: async () => {
              held++;
              await releasing;
              held--;
            },
          }).then((whole) => {
            if (whole) cursor.served();
          })
        : path.startsWith(CONTROL_PREFIX)
          ? handleControl(sim, req, res, path, () => externalEntityHits++)
          : Promise.resolve(
              void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n'),
            );
    work.catch(() => res.destroy());
  });

  const sim: ProviderSim = {
    server,
    url: () => `${base}${FEED_PATH}`,
    async listen(port = 0, host = '127.0.0.1') {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const address = server.address() as AddressInfo;
      base = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
      return sim.url();
    },
    setPlan: (plan) => script.replace(plan),
    setSource: (source) => cursor.replace(source),
    release() {
      release();
      releasing = new Promise<void>((resolve) => {
        release = resolve;
      });
    },
    state: () => ({
      requests,
      feedRequests,
      feedsServed: cursor.feedsServed,
      externalEntityHits,
      held,
      source: cursor.source,
      remainingSteps: script.remaining,
    }),
    close: () =>
      new Promise<void>((resolve) => {
        sim.release();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return sim;
}
