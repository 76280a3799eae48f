import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { FIXTURE_RESPONSES, type FixtureVocabulary, fixturePath } from '@tessera/fixtures';
import { z } from 'zod';
import * as documents from './fault-documents.js';
import { type Fault, type FaultPlan, FaultPlanSchema, FaultScript } from './fault-plan.js';
import { GeneratedFeedSchema, generateFeed } from './feed-generator.js';

export const FEED_PATH = '/api/events';

export const SourceSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('fixtures'),
    vocabulary: z.enum(['event', 'plan']).default('plan'),
    /** Pin one answer (1–3); without it the answers rotate, one per served feed. */
    response: z.number().int().min(1).max(3).optional(),
  }),
  GeneratedFeedSchema.extend({
    kind: z.literal('generated'),
    /** Serve a different feed each time (seed + feeds served), as a busy partner would. */
    evolve: z.boolean().default(false),
  }),
]);
/** A source as given (defaults optional); the simulator keeps it parsed. */
export type Source = z.input<typeof SourceSchema>;
type ParsedSource = z.output<typeof SourceSchema>;

export interface ProviderSimOptions {
  source?: Source;
  plan?: FaultPlan;
  /** gzip full responses to clients that accept it. */
  compress?: boolean;
  /** Send ETags and answer If-None-Match with 304 (default); off, every poll gets the body. */
  conditional?: boolean;
}

export interface ProviderSimState {
  requests: number;
  feedsServed: number;
  externalEntityHits: number;
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
  state(): ProviderSimState;
  close(): Promise<void>;
}

/** The partner stand-in: plain node:http, one feed path and a small control API. */
export function createProviderSim(options: ProviderSimOptions = {}): ProviderSim {
  const fixtures = loadFixtures();
  const script = new FaultScript(options.plan);
  let source: ParsedSource = SourceSchema.parse(options.source ?? { kind: 'fixtures' });
  let rotation = 0;
  let requests = 0;
  let feedsServed = 0;
  let externalEntityHits = 0;
  let base = '';

  const currentBody = (): { etag: string; bytes?: Buffer; stream?: () => Iterable<Buffer> } => {
    if (source.kind === 'fixtures') {
      const n = source.response ?? FIXTURE_RESPONSES[rotation % FIXTURE_RESPONSES.length]!;
      return {
        etag: `"fixture-${source.vocabulary}-${n}"`,
        bytes: fixtures[source.vocabulary][n - 1]!,
      };
    }
    const { kind: _kind, evolve, ...options } = source;
    const feed = evolve ? { ...options, seed: options.seed + feedsServed } : options;
    const etag = `"gen-${createHash('sha256').update(JSON.stringify(feed)).digest('hex').slice(0, 16)}"`;
    return { etag, stream: () => generateFeed(feed) };
  };

  const served = (): void => {
    feedsServed++;
    if (source.kind === 'fixtures' && source.response === undefined) rotation++;
  };

  const handleFeed = async (
    req: IncomingMessage,
    res: ServerResponse,
    fault: Fault,
  ): Promise<void> => {
    const body = currentBody();
    const vocabulary: FixtureVocabulary = source.vocabulary;
    const xmlHeaders: Record<string, string> = { 'content-type': 'application/xml; charset=utf-8' };
    if (options.conditional !== false) xmlHeaders.etag = body.etag;
    switch (fault.kind) {
      case 'delay':
        await sleep(fault.ms);
        break;
      case 'status': {
        const headers: Record<string, string> = { 'content-type': 'text/plain' };
        if (fault.retryAfterSeconds !== undefined)
          headers['retry-after'] = String(fault.retryAfterSeconds);
        res.writeHead(fault.status, headers).end(`provider error ${fault.status}\n`);
        return;
      }
      case 'html200':
        res.writeHead(200, { 'content-type': 'text/html' }).end(documents.htmlErrorPage());
        return;
      case 'malformed':
      case 'wrong_root':
      case 'invalid_dates':
      case 'missing_attributes':
      case 'huge_attribute':
      case 'deep_nesting':
      case 'entity_bomb': {
        const doc = documents.faultDocument(fault, vocabulary, `${base}/control/external-entity`);
        res.writeHead(200, { ...xmlHeaders, etag: `"${fault.kind}"` }).end(doc);
        return;
      }
      case 'gzip_bomb':
        res.writeHead(200, { ...xmlHeaders, 'content-encoding': 'gzip', etag: '"gzip-bomb"' });
        for (const member of documents.gzipBomb(fault.inflatedBytes)) {
          if (!res.write(member)) await new Promise((r) => res.once('drain', r));
        }
        res.end();
        return;
      default:
        break;
    }

    if (
      fault.kind !== 'reset' &&
      fault.kind !== 'truncate' &&
      req.headers['if-none-match'] === body.etag
    ) {
      res.writeHead(304, { etag: body.etag }).end();
      return;
    }

    if (fault.kind === 'reset' || fault.kind === 'truncate') {
      const bytes = body.bytes ?? Buffer.concat([...(body.stream?.() ?? [])].slice(0, 64));
      const cut = Math.min(fault.afterBytes, Math.max(0, bytes.length - 1));
      res.writeHead(200, { ...xmlHeaders, 'content-length': String(bytes.length) });
      res.write(bytes.subarray(0, cut), () => {
        if (fault.kind === 'reset') res.socket?.resetAndDestroy();
        else res.socket?.end();
      });
      return;
    }

    const gzip =
      options.compress === true && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    if (body.bytes !== undefined) {
      const payload = gzip ? gzipSync(body.bytes) : body.bytes;
      const headers = {
        ...xmlHeaders,
        'content-length': String(payload.length),
        ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      };
      if (fault.kind === 'drip') {
        res.writeHead(200, headers);
        for (let i = 0; i < payload.length; i += fault.bytesPerTick) {
          if (res.destroyed) return;
          res.write(payload.subarray(i, i + fault.bytesPerTick));
          await sleep(fault.intervalMs);
        }
        res.end();
      } else {
        res.writeHead(200, headers).end(payload);
      }
      served();
      return;
    }
    res.writeHead(200, xmlHeaders);
    for (const piece of body.stream!()) {
      if (res.destroyed) return;
      if (!res.write(piece)) await new Promise((r) => res.once('drain', r));
      if (fault.kind === 'drip') await sleep(fault.intervalMs);
    }
    res.end();
    served();
  };

  const handleControl = async (
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
  ): Promise<void> => {
    const json = (status: number, value: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    };
    if (path === '/control/external-entity') {
      externalEntityHits++;
      res.writeHead(200, { 'content-type': 'text/plain' }).end('external entity fetched');
      return;
    }
    if (path === '/control/state' && req.method === 'GET') return json(200, sim.state());
    if ((path === '/control/plan' || path === '/control/source') && req.method === 'PUT') {
      try {
        const body = JSON.parse(await readBody(req));
        if (path === '/control/plan') sim.setPlan(FaultPlanSchema.parse(body));
        else sim.setSource(SourceSchema.parse(body));
        return json(200, sim.state());
      } catch (error) {
        return json(400, { error: error instanceof Error ? error.message : String(error) });
      }
    }
    json(404, { error: 'unknown control path' });
  };

  const server = createServer((req, res) => {
    requests++;
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const work =
      path === FEED_PATH && (req.method === 'GET' || req.method === 'HEAD')
        ? handleFeed(req, res, script.next())
        : path.startsWith('/control/')
          ? handleControl(req, res, path)
          : Promise.resolve(
              void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n'),
            );
    work.catch(() => res.destroy());
  });

  const sim: ProviderSim = {
    server,
    url: () => `${base}${FEED_PATH}`,
    async listen(port = 0, host = '127.0.0.1') {
      await new Promise<void>((resolve) => server.listen(port, host, resolve));
      const address = server.address() as AddressInfo;
      base = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
      return sim.url();
    },
    setPlan: (plan) => script.replace(plan),
    setSource(next) {
      source = SourceSchema.parse(next);
      rotation = 0;
    },
    state: () => ({
      requests,
      feedsServed,
      externalEntityHits,
      source,
      remainingSteps: script.remaining,
    }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return sim;
}

function loadFixtures(): Record<FixtureVocabulary, Buffer[]> {
  const read = (v: FixtureVocabulary) =>
    FIXTURE_RESPONSES.map((n) => readFileSync(fixturePath(v, n)));
  return { event: read('event'), plan: read('plan') };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req as AsyncIterable<Buffer>) {
    size += part.length;
    if (size > 1024 * 1024) throw new Error('control body too large');
    parts.push(part);
  }
  return Buffer.concat(parts).toString('utf8');
}
