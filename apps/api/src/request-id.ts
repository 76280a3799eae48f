import { randomBytes } from 'node:crypto';

/** What a caller's X-Request-Id may be: short, printable, safe in a log line and a header. */
const ACCEPTED = /^[\w.:@/+=-]{1,128}$/;

/** This process's part of the ids it makes: random, so that processes and restarts never share one. */
const PROCESS = randomBytes(6).toString('hex');
let made = 0;

/**
 * The request's id: the caller's `X-Request-Id` when it is reasonable (a load balancer's or an
 * upstream service's, so that one id follows the request across systems), else a new one, unique
 * without a random draw per request: this process's random part and a counter.
 */
export function requestIdOf(header: string | string[] | undefined): string {
  return typeof header === 'string' && ACCEPTED.test(header)
    ? header
    : `${PROCESS}-${(++made).toString(36)}`;
}
