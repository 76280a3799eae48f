import type { ServerResponse } from 'node:http';

/** Sent with every response, as [name, value, …], X-Request-Id after them. */
export const SECURITY_HEADERS: readonly string[] = [
  'X-Content-Type-Options',
  'nosniff',
  'X-Frame-Options',
  'DENY',
  'Referrer-Policy',
  'no-referrer',
  'Content-Security-Policy',
  "default-src 'none'; frame-ancestors 'none'",
];

/** The security headers and the request id, on a response Koa will write. */
export function setCommonHeaders(res: ServerResponse, requestId: string): void {
  for (let i = 0; i < SECURITY_HEADERS.length; i += 2) {
    // A route may have set its own (the docs page its CSP).
    if (!res.hasHeader(SECURITY_HEADERS[i]!))
      res.setHeader(SECURITY_HEADERS[i]!, SECURITY_HEADERS[i + 1]!);
  }
  res.setHeader('X-Request-Id', requestId);
}

/**
 * A flat header list for `writeHead`, built once per answer: the security headers, `extra`, and
 * a slot for the request id, which `withRequestId` fills per response by copying the list.
 */
export function headerTemplate(extra: readonly string[]): string[] {
  return [...SECURITY_HEADERS, ...extra, 'X-Request-Id', ''];
}

export function withRequestId(template: readonly string[], requestId: string): string[] {
  const headers = template.slice();
  headers[headers.length - 1] = requestId;
  return headers;
}
