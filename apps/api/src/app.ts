import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIPv6 } from 'node:net';
import Router from '@koa/router';
import type { StoreView } from '@tessera/store';
import Koa from 'koa';
import type { Logger } from 'pino';
import { createAccessLog } from './access-log.js';
import { createDocs } from './api-docs.js';
import { ApiError } from './api-error.js';
import { type ChangeFeed, type ChangeFeedOptions, createChangeFeed } from './change-feed.js';
import { parseChangesQuery } from './changes-query.js';
import { setCommonHeaders } from './common-headers.js';
import { changesHeartbeatMs, loadConfig } from './config.js';
import type { DirectExchange } from './direct-answer.js';
import { answerError, ensureAnswered } from './error-envelope.js';
import { createEventResponder } from './event-response.js';
import { answerUnrouted, type RouteMethods, routeMethods } from './method-rule.js';
import { createMetrics, type Metrics } from './metrics.js';
import { createPageCursors } from './page-cursor.js';
import { createReadinessLog, feedsBody, readyBody } from './readiness.js';
import type { ReplicationSource } from './replication-view.js';
import { requestIdOf } from './request-id.js';
import { createScanBudget } from './scan-budget.js';
import { createSearchQueryParser } from './search-query.js';
import { createSearchResponder } from './search-response.js';

export interface AppDeps {
  store: StoreView;
  log: Logger;
  /** Cluster mode: the ingestor's replication status beside the store; single mode without it. */
  replication?: ReplicationSource;
  metrics?: Metrics;
  cacheMaxBytes?: number;
  cacheMaxEntryBytes?: number;
  /** Events an uncached /search reads per turn of the event loop (see search-response.ts). */
  sliceEvents?: number;
  /** Admission control for uncached /search scans (see scan-budget.ts). */
  scanConcurrency?: number;
  scanEventsPerSecond?: number;
  staleAfterMs?: number;
  /** Cluster mode: a follower further behind than this reports not ready. */
  maxLagMs?: number;
  /** Requests slower than this are logged even when they succeed. */
  slowRequestMs?: number;
  now?: () => number;
  /** Authenticates page cursors; the API's processes (and nodes) that share it accept each other's. */
  cursorSecret?: string;
  /** Returns the Prometheus text; defaults to this process's registry (see cluster.ts). */
  renderMetrics?: () => Promise<string>;
  /** /metrics and /feeds are served by the admin port (see admin-app.ts), not here. */
  operatorPathsElsewhere?: boolean;
  /** Bounds of the change feed behind /changes (see config.ts); the settings' defaults otherwise. */
  changeLimits?: Partial<ChangeLimits>;
}

export type ChangeLimits = Omit<ChangeFeedOptions, 'store' | 'metrics'>;

/** What a caller leaves out: the settings' defaults, whose one home is config.ts. */
const DEFAULTS = loadConfig({});

const DOCS_CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'";

interface RequestState {
  requestId: string;
  /** Set when an answer failed after its headers went out: counted and logged as a 500. */
  failed?: boolean;
  /** Set by a route that logs its own refusals (/ready: once per change, not per probe). */
  logged?: boolean;
}

/**
 * The Koa app, what a server answering outside it (see parser-refusal.ts) needs of its routes,
 * and its change feed, whose streams its owner ends at shutdown (they never end on their own).
 */
export type TesseraApp = Koa<RequestState> & {
  readonly routes: RouteMethods;
  readonly changes: Pick<ChangeFeed, 'close'>;
};

export function createApp(deps: AppDeps): TesseraApp {
  const { store, log } = deps;
  const now = deps.now ?? Date.now;
  const maxLagMs = deps.maxLagMs ?? DEFAULTS.MAX_LAG_MS;
  const staleAfterMs = deps.staleAfterMs ?? DEFAULTS.STALE_AFTER_MS;
  const replication = deps.replication ?? (() => null);
  const metrics =
    deps.metrics ?? createMetrics(store, { maxLagMs, staleAfterMs, now, replication });
  const renderMetrics = deps.renderMetrics ?? (() => metrics.registry.metrics());
  const search = searchResponderOf(deps, metrics);
  const changes = changeFeedOf(store, deps.changeLimits, metrics);
  const accessLog = createAccessLog(log, deps.slowRequestMs ?? DEFAULTS.SLOW_REQUEST_MS);
  const refuseBadHost = createHostCheck();
  const docs = createDocs();

  const app = new Koa<RequestState>();
  app.proxy = false;
  // Errors are answered by errorEnvelope and logged there or by the access log; Koa's own
  // printing would only duplicate them.
  app.silent = true;

  // One frame for every request: its id and headers, errors into the envelope, metrics and the
  // access log, measured to the last byte (a route that streams resolves when it is done).
  app.use(async (ctx, next) => {
    const started = performance.now();
    const requestId = requestIdOf(ctx.req.headers['x-request-id']);
    ctx.state.requestId = requestId;
    try {
      refuseBadHost(ctx.req);
      await next();
      ensureAnswered(ctx);
    } catch (cause) {
      answerError(ctx, cause, log);
    }
    // Routes that write their answer themselves (/search) send these headers with it.
    if (ctx.respond !== false) setCommonHeaders(ctx.res, requestId);
    // Unknown paths share one label, so that scanners cannot blow up the series count.
    const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
    const status = ctx.state.failed === true ? 500 : ctx.status;
    const ms = performance.now() - started;
    metrics.observe(route, status, ms / 1000);
    if (accessLog.wants(status, ms) && ctx.state.logged !== true) {
      accessLog.write({
        requestId,
        method: ctx.method,
        path: ctx.path,
        status,
        ms: Math.round(ms),
      });
    }
  });

  const router = new Router<RequestState>();

  // The hot path writes its answer straight to the Node response (see search-response.ts).
  const parseQuery = createSearchQueryParser();
  router.get('/search', (ctx) => {
    return search.respond(parseQuery(ctx.querystring), {
      ...directExchange(ctx),
      method: ctx.method,
      fail(error) {
        ctx.state.failed = true;
        log.error(
          { err: error, reqId: ctx.state.requestId },
          'search answer failed after its headers were sent',
        );
      },
    });
  });

  const events = createEventResponder(store);
  router.get('/events/:id', (ctx) => {
    events.respond(ctx.params.id ?? '', directExchange(ctx));
  });

  // The change log: JSON pages with a long-poll, or the same changes as Server-Sent Events.
  router.get('/changes', async (ctx) => {
    const stream = acceptsEventStream(ctx.req.headers.accept);
    const lastEventId = stream ? ctx.get('Last-Event-ID') : undefined;
    const request = parseChangesQuery(ctx.querystring, lastEventId);
    // Long by design: a stream, or a long-poll, is not a slow request for the access log.
    ctx.state.logged = stream || request.waitMs > 0;
    if (stream) return changes.stream(request, directExchange(ctx));
    const body = await changes.page(request, ctx.res);
    ctx.type = 'application/json';
    ctx.body = body;
  });

  router.get('/health', (ctx) => {
    ctx.type = 'application/json';
    ctx.body = '{"data":{"status":"ok"},"error":null}';
  });

  // Ready once the store holds a whole feed; stale data stays ready (`fresh: false`), so that a
  // partner outage never takes the API out of a load balancer. A refusal says why; it is logged
  // when readiness changes, not once per probe.
  const readiness = createReadinessLog(log);
  router.get('/ready', (ctx) => {
    ctx.state.logged = true;
    try {
      ctx.body = readyBody(store, replication, now(), { maxLagMs, staleAfterMs });
      readiness.record('ready', 'ready');
    } catch (error) {
      if (error instanceof ApiError) readiness.record(error.code, error.message);
      throw error;
    }
  });

  if (deps.operatorPathsElsewhere !== true) {
    router.get('/feeds', (ctx) => {
      ctx.body = feedsBody(store, now(), staleAfterMs);
    });
    router.get('/metrics', async (ctx) => {
      ctx.type = metrics.registry.contentType;
      ctx.body = await renderMetrics();
    });
  }

  router.get('/openapi.json', async (ctx) => {
    const body = await docs.openApi();
    ctx.type = 'application/json';
    ctx.body = body;
  });

  router.get(['/docs', '/docs/:asset'], (ctx) => {
    const asset = docs.asset(ctx.params.asset ?? '');
    if (asset === undefined) throw new ApiError('not_found', `no such resource: ${ctx.path}`);
    ctx.set('Content-Security-Policy', DOCS_CSP);
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.type = asset.type;
    ctx.body = asset.body;
  });

  const routes = routeMethods(router);
  app.use(router.routes());
  app.use(answerUnrouted(routes));
  return Object.assign(app, { routes, changes });
}

/** /search's responder, from the deps' settings or the defaults. */
function searchResponderOf(deps: AppDeps, metrics: Metrics) {
  return createSearchResponder({
    store: deps.store,
    cursors: createPageCursors(deps.cursorSecret ?? randomBytes(32).toString('base64url')),
    budget: createScanBudget({
      concurrency: deps.scanConcurrency ?? DEFAULTS.SCAN_CONCURRENCY,
      eventsPerSecond: deps.scanEventsPerSecond ?? DEFAULTS.SCAN_EVENTS_PER_SECOND,
    }),
    cacheMaxBytes: deps.cacheMaxBytes ?? DEFAULTS.CACHE_MAX_BYTES,
    cacheMaxEntryBytes: deps.cacheMaxEntryBytes ?? DEFAULTS.CACHE_MAX_ENTRY_BYTES,
    sliceEvents: deps.sliceEvents,
    onScanned: metrics.scanned,
  });
}

/** /changes' feed: the defaults, with the limits the deps give. */
function changeFeedOf(
  store: StoreView,
  limits: Partial<ChangeLimits> | undefined,
  metrics: Metrics,
) {
  return createChangeFeed({
    store,
    maxSubscribers: DEFAULTS.CHANGES_MAX_SUBSCRIBERS,
    bufferBytes: DEFAULTS.CHANGES_BUFFER_BYTES,
    heartbeatMs: changesHeartbeatMs(DEFAULTS),
    watchMs: DEFAULTS.CHANGES_WATCH_MS,
    ...limits,
    metrics: metrics.changeFeed,
  });
}

/** The client asks for Server-Sent Events (an EventSource sends exactly this Accept). */
function acceptsEventStream(accept: string | undefined): boolean {
  return accept !== undefined && /(?:^|,)\s*text\/event-stream\s*(?:;|,|$)/i.test(accept);
}

/** A route that writes its own answer: Koa is told not to write one after it. */
function directExchange(ctx: Koa.ParameterizedContext<RequestState>): DirectExchange {
  return {
    ifNoneMatch: ctx.req.headers['if-none-match'],
    res: ctx.res,
    requestId: ctx.state.requestId,
    begin(status) {
      ctx.status = status;
      ctx.respond = false;
    },
  };
}

/**
 * RFC 9112 §3.2: a server answers 400 to an HTTP/1.1 request without a Host, with more than one,
 * or with one whose value is not a valid authority (host and optional port, RFC 3986 §3.2.2).
 * Node keeps the first Host and drops the others, so the count reads the raw header list; its own
 * check of a missing Host is off (see server.ts), so that this refusal carries the envelope.
 */
function createHostCheck(): (req: IncomingMessage) => void {
  // Clients send the same Host on every request: the last valid value is remembered. Matching
  // the authority expression (its match array included) took ~0.37 µs a request in a profile of
  // a cached /search, ~1 % of it.
  let lastValid: string | undefined;
  return (req) => {
    const host = hostOf(req);
    if (host === undefined || host === lastValid) return;
    if (!isAuthority(host))
      throw new ApiError('bad_request', 'the Host header is not a valid host');
    lastValid = host;
  };
}

/** The request's one Host value (undefined: none, which HTTP/1.0 allows); throws for more than one, or none in HTTP/1.1. */
function hostOf(req: IncomingMessage): string | undefined {
  const raw = req.rawHeaders;
  let host: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length !== 4 || name.toLowerCase() !== 'host') continue;
    if (host !== undefined) {
      throw new ApiError('bad_request', 'the request has more than one Host header');
    }
    host = raw[i + 1] as string;
  }
  if (host === undefined && req.httpVersionMajor === 1 && req.httpVersionMinor >= 1) {
    throw new ApiError('bad_request', 'an HTTP/1.1 request needs a Host header');
  }
  return host;
}

/** reg-name or IPv4address (RFC 3986: unreserved, pct-encoded, sub-delims), or an IP-literal; then an optional port. */
const AUTHORITY = /^(?:\[([^\]]*)\]|(?:[\w.~!$&'()*+,;=-]|%[\da-fA-F]{2})*)(?::\d*)?$/;
const IP_FUTURE = /^v[\da-fA-F]+\.[\w.~!$&'()*+,;=:-]+$/;

export function isAuthority(value: string): boolean {
  const match = AUTHORITY.exec(value);
  if (match === null) return false;
  const literal = match[1];
  return literal === undefined || isIPv6(literal) || IP_FUTURE.test(literal);
}
