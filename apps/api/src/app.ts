import Router from '@koa/router';
import type { StoreState, StoreView } from '@tessera/store';
import Koa from 'koa';
import type { Logger } from 'pino';
import { loadDocsAssets, loadOpenApi } from './api-docs.js';
import { ApiError } from './api-error.js';
import { errorEnvelope } from './error-envelope.js';
import { matchesIfNoneMatch } from './etag.js';
import { createMetrics, type Metrics } from './metrics.js';
import { parseSearchQuery } from './search-query.js';
import { createSearchResponder } from './search-response.js';

export interface AppDeps {
  store: StoreView;
  log: Logger;
  metrics?: Metrics;
  cacheMaxBytes?: number;
  cacheMaxEntryBytes?: number;
  staleAfterMs?: number;
  now?: () => number;
  /** Returns the Prometheus text; defaults to this process's registry (see cluster.ts). */
  renderMetrics?: () => Promise<string>;
}

const JSON_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'DENY'],
  ['Referrer-Policy', 'no-referrer'],
  ['Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'"],
];
const JSON_TYPE = 'application/json; charset=utf-8';
const DOCS_CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'";

export function createApp(deps: AppDeps): Koa {
  const { store, log } = deps;
  const now = deps.now ?? Date.now;
  const metrics = deps.metrics ?? createMetrics(store);
  const renderMetrics = deps.renderMetrics ?? (() => metrics.registry.metrics());
  const search = createSearchResponder({
    store,
    cacheMaxBytes: deps.cacheMaxBytes ?? 96 * 1024 ** 2,
    cacheMaxEntryBytes: deps.cacheMaxEntryBytes ?? 32 * 1024 ** 2,
  });
  const staleAfterMs = deps.staleAfterMs ?? 300_000;
  const openApi = loadOpenApi();
  const docs = loadDocsAssets();

  const app = new Koa();
  app.proxy = false;
  app.silent = true;

  // Measures every request, then maps errors to the envelope: one frame for both on the hot path.
  const envelope = errorEnvelope(log);
  app.use(async (ctx, next) => {
    const started = performance.now();
    const res = ctx.res;
    for (const [name, value] of JSON_HEADERS) res.setHeader(name, value);
    try {
      await envelope(ctx, next);
    } finally {
      // Unknown paths share one label, so that scanners cannot blow up the series count.
      const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      metrics.observe(route, ctx.status, (performance.now() - started) / 1000);
    }
  });

  const router = new Router();

  // The hot path: headers go straight to the Node response, the body is a cached Buffer.
  router.get('/search', (ctx) => {
    const window = parseSearchQuery(ctx.querystring);
    const etag = search.etagFor(window);
    const res = ctx.res;
    res.setHeader('ETag', etag);
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('Content-Type', JSON_TYPE);
    if (matchesIfNoneMatch(ctx.req.headers['if-none-match'], etag)) {
      ctx.status = 304;
      return;
    }
    ctx.body = search.respond(window, etag);
  });

  router.get('/health', (ctx) => {
    ctx.type = 'application/json';
    ctx.body = '{"data":{"status":"ok"},"error":null}';
  });

  // Ready once the store holds a whole feed; stale data stays ready (`fresh: false`), so that a
  // partner outage never takes the API out of a load balancer.
  router.get('/ready', (ctx) => {
    let state: StoreState;
    let events: number;
    let version: number;
    try {
      state = store.state();
      events = store.count();
      version = store.head().version;
    } catch (cause) {
      throw new ApiError('store_unavailable', 'the store cannot be read', { cause });
    }
    if (state.lastSuccessAt === null) {
      throw new ApiError('not_ready', 'no feed has been applied to the store yet');
    }
    const ageMs = Math.max(0, now() - state.lastSuccessAt);
    ctx.body = {
      data: {
        status: 'ready',
        events,
        version,
        fresh: ageMs <= staleAfterMs,
        last_success_at: new Date(state.lastSuccessAt).toISOString(),
        age_seconds: Math.round(ageMs / 1000),
        last_attempt_at:
          state.lastAttemptAt === null ? null : new Date(state.lastAttemptAt).toISOString(),
        consecutive_failures: state.consecutiveFailures,
        last_error_code: state.lastErrorCode,
      },
      error: null,
    };
  });

  router.get('/metrics', async (ctx) => {
    ctx.type = metrics.registry.contentType;
    ctx.body = await renderMetrics();
  });

  router.get('/openapi.json', (ctx) => {
    ctx.type = 'application/json';
    ctx.body = openApi;
  });

  router.get(['/docs', '/docs/:asset'], (ctx) => {
    const asset = docs.get(ctx.params.asset ?? '');
    if (asset === undefined) throw new ApiError('not_found', `no such resource: ${ctx.path}`);
    ctx.set('Content-Security-Policy', DOCS_CSP);
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.type = asset.type;
    ctx.body = asset.body;
  });

  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
