import type { Context } from 'koa';
import type { Logger } from 'pino';
import { ApiError } from './api-error.js';

/** Serializes an error in the envelope every response of this API uses. */
export function errorBody(code: string, message: string): string {
  return JSON.stringify({ error: { code, message }, data: null });
}

/** Throws when nothing answered (see method-rule.ts for the routes' own rule). */
export function ensureAnswered(ctx: Context): void {
  if (ctx.body != null || ctx.respond === false || ctx.status !== 404) return;
  throw new ApiError('not_found', `no such resource: ${ctx.path}`);
}

/**
 * The one place errors become responses: known errors keep their code, anything else is a 500
 * whose details go to the log only. No stack trace or internal message leaves the process.
 */
export function answerError(ctx: Context, cause: unknown, log: Logger): void {
  const error = toApiError(cause);
  if (error.code === 'internal_error') {
    log.error({ err: cause, reqId: ctx.state.requestId, path: ctx.path }, 'request failed');
  }
  ctx.status = error.status;
  if (error.retryAfterSeconds !== undefined) {
    ctx.set('Retry-After', String(error.retryAfterSeconds));
  }
  ctx.type = 'application/json';
  ctx.body = errorBody(error.code, error.message);
}

function toApiError(cause: unknown): ApiError {
  if (cause instanceof ApiError) return cause;
  const status = (cause as { status?: unknown })?.status;
  // Errors thrown by Koa and the router carry an HTTP status; expose only their category.
  if (status === 405 || status === 501)
    return new ApiError('method_not_allowed', 'method not allowed');
  if (status === 404) return new ApiError('not_found', 'not found');
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new ApiError('invalid_parameter', 'the request is malformed');
  }
  return new ApiError('internal_error', 'internal error', { cause });
}
