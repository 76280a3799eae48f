import { randomUUID } from 'node:crypto';

/** What a caller's X-Request-Id may be: short, printable, safe in a log line and a header. */
const ACCEPTED = /^[\w.:@/+=-]{1,128}$/;

/**
 * The request's id: the caller's `X-Request-Id` when it is reasonable (a load balancer's or an
 * upstream service's, so that one id follows the request across systems), else a new one.
 */
export function requestIdOf(header: string | string[] | undefined): string {
  return typeof header === 'string' && ACCEPTED.test(header) ? header : randomUUID();
}
