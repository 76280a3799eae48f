import type { Context } from 'koa';
import { ApiError } from './api-error.js';

/** What the rule needs of the router: the routes a path matches, and their methods. */
interface RouteTable {
  match(path: string, method: string): { path: Array<{ methods: string[] }> };
  stack: Array<{ methods: string[] }>;
}

/** The methods the routes serve, for answers given where no route runs (see parser-refusal.ts). */
export interface RouteMethods {
  /** The methods a path serves, OPTIONS included; null for a path no route serves. */
  allowedOn(path: string): string[] | null;
  /** Every method some route serves, OPTIONS included. */
  served(): string[];
}

export function routeMethods(router: RouteTable): RouteMethods {
  const withOptions = (methods: Iterable<string>) => [...new Set([...methods, 'OPTIONS'])];
  return {
    allowedOn(path) {
      const layers = router.match(path, 'GET').path.filter((l) => l.methods.length > 0);
      return layers.length === 0 ? null : withOptions(layers.flatMap((l) => l.methods));
    },
    served: () => withOptions(router.stack.flatMap((l) => l.methods)),
  };
}

/**
 * The one rule for a request no route answered, on every path: an unknown path is 404 whatever
 * the method; on a known path, OPTIONS is 204 and any other method 405, both with `Allow`
 * listing what the path serves. (The router's own `allowedMethods` answered 405 with an empty
 * `Allow` for a method it does not know, such as TRACE, even on an unknown path.) It runs after
 * the router, which calls it only when no route matched: the routes that answer never pay for it.
 */
export function answerUnrouted(routes: RouteMethods) {
  return (ctx: Context): void => {
    const allowed = routes.allowedOn(ctx.path);
    if (allowed === null) throw new ApiError('not_found', `no such resource: ${ctx.path}`);
    ctx.set('Allow', allowed.join(', '));
    if (ctx.method === 'OPTIONS') {
      ctx.status = 204;
      return;
    }
    throw new ApiError('method_not_allowed', `${ctx.method} is not allowed on ${ctx.path}`);
  };
}
