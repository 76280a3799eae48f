import type { Context } from 'koa';
import { ApiError } from './api-error.js';

/** What the rule needs of the router: the routes a path matches, and their methods. */
interface RouteTable {
  match(path: string, method: string): { path: Array<{ methods: string[] }> };
}

/**
 * The one rule for a request no route answered, on every path: an unknown path is 404 whatever
 * the method; on a known path, OPTIONS is 204 and any other method 405, both with `Allow`
 * listing what the path serves. (The router's own `allowedMethods` answered 405 with an empty
 * `Allow` for a method it does not know, such as TRACE, even on an unknown path.) It runs after
 * the router, which calls it only when no route matched: the routes that answer never pay for it.
 */
export function answerUnrouted(router: RouteTable) {
  return (ctx: Context): void => {
    const layers = router.match(ctx.path, ctx.method).path.filter((l) => l.methods.length > 0);
    if (layers.length === 0) throw new ApiError('not_found', `no such resource: ${ctx.path}`);
    const allowed = new Set(layers.flatMap((l) => l.methods));
    allowed.add('OPTIONS');
    ctx.set('Allow', [...allowed].join(', '));
    if (ctx.method === 'OPTIONS') {
      ctx.status = 204;
      return;
    }
    throw new ApiError('method_not_allowed', `${ctx.method} is not allowed on ${ctx.path}`);
  };
}
