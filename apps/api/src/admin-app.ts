import { createHash, timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import { isFeedId } from '@tessera/core';
import { OPERATOR_ACTIONS, OperatorError, requestAction } from '@tessera/operator';
import type { StoreView } from '@tessera/store';
import Koa from 'koa';
import type { Logger } from 'pino';
import { ApiError } from './api-error.js';
import { setCommonHeaders } from './common-headers.js';
import { answerError, ensureAnswered } from './error-envelope.js';
import { answerUnrouted, type RouteMethods, routeMethods } from './method-rule.js';
import type { Metrics } from './metrics.js';
import { feedsBody } from './readiness.js';
import { requestIdOf } from './request-id.js';

export interface AdminDeps {
  store: StoreView;
  log: Logger;
  metrics: Metrics;
  renderMetrics: () => Promise<string>;
  /** The store's directory: the ingestor's control socket is there (see @tessera/operator). */
  dataDir: string;
  /** ADMIN_TOKEN; undefined turns the actions off. */
  token: string | undefined;
  staleAfterMs: number;
  now?: () => number;
}

/**
 * The admin port: what operators read (/metrics, /feeds) and what they do to a feed
 * (`POST /feeds/{id}/poll|pause|resume`, bearer token). An action is carried to the ingestor
 * over its control socket and answered with what the ingestor did; each is logged with who
 * asked (the client's address), what, and the outcome.
 */
export function createAdminApp(deps: AdminDeps): Koa & { readonly routes: RouteMethods } {
  const { store, log, metrics, token } = deps;
  const now = deps.now ?? Date.now;
  const app = new Koa();
  app.proxy = false;
  app.silent = true;
  app.use(async (ctx, next) => {
    const requestId = requestIdOf(ctx.req.headers['x-request-id']);
    ctx.state.requestId = requestId;
    try {
      await next();
      ensureAnswered(ctx);
    } catch (cause) {
      answerError(ctx, cause, log);
    }
    setCommonHeaders(ctx.res, requestId);
  });

  const router = new Router();
  router.get('/metrics', async (ctx) => {
    ctx.type = metrics.registry.contentType;
    ctx.body = await deps.renderMetrics();
  });
  router.get('/feeds', (ctx) => {
    ctx.body = feedsBody(store, now(), deps.staleAfterMs);
  });
  router.post('/feeds/:id/:action', async (ctx) => {
    const feed = ctx.params.id ?? '';
    const action = OPERATOR_ACTIONS.find((a) => a === ctx.params.action);
    if (action === undefined) throw new ApiError('not_found', `no such resource: ${ctx.path}`);
    if (!isFeedId(feed)) throw new ApiError('unknown_feed', `no feed ${JSON.stringify(feed)}`);
    const by = ctx.req.socket.remoteAddress ?? 'unknown';
    if (token === undefined) {
      throw new ApiError('not_found', 'operator actions are off: ADMIN_TOKEN is not set');
    }
    if (!isBearer(ctx.get('authorization'), token)) {
      log.warn({ feed, action, by }, 'operator action refused: no valid token');
      ctx.set('WWW-Authenticate', 'Bearer realm="tessera-admin"');
      throw new ApiError('unauthorized', 'operator actions need Authorization: Bearer ADMIN_TOKEN');
    }
    try {
      const result = await requestAction(deps.dataDir, { feed, action, by });
      log.info({ feed, action, by, outcome: result.outcome, node: result.node }, 'operator action');
      // A poll is started, not done: its outcome is in /feeds once it ends.
      ctx.status = action === 'poll' ? 202 : 200;
      ctx.body = { data: result, error: null };
    } catch (error) {
      if (!(error instanceof OperatorError)) throw error;
      log.warn({ feed, action, by, code: error.code }, 'operator action not done');
      throw new ApiError(error.code, error.message, { cause: error });
    }
  });
  const routes = routeMethods(router);
  app.use(router.routes());
  app.use(answerUnrouted(routes));
  return Object.assign(app, { routes });
}

/**
 * Whether an Authorization header carries the token, compared in constant time: both sides are
 * hashed first, so that neither the comparison nor its length check says how much matched.
 */
function isBearer(header: string, token: string): boolean {
  const given = /^Bearer +(\S+) *$/i.exec(header)?.[1];
  if (given === undefined) return false;
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(token));
}
