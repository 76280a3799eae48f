import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { API_ERRORS, type ApiErrorCode } from './api-error.js';
import { SECURITY_HEADERS } from './common-headers.js';
import { errorBody } from './error-envelope.js';
import type { RouteMethods } from './method-rule.js';
import { requestIdOf } from './request-id.js';

interface Refusal {
  code: ApiErrorCode;
  message: string;
  allow?: string[];
}

/**
 * Node's HTTP parser refuses some requests before any route sees them (a head over its 16 KiB, a
 * method token it does not know, conflicting framing, a timeout) and, left alone, answers them
 * with a bare status line. This is what such a request gets instead: the envelope, a request id
 * and the security headers, as every other answer; then the connection is closed, since what
 * follows on it cannot be framed. `rawPacket` is what the parser had read of the request.
 */
export function refuseUnparsed(
  error: Error & { code?: string; rawPacket?: Buffer; bytesParsed?: number },
  routes: RouteMethods,
): Refusal {
  const packet = error.rawPacket ?? Buffer.alloc(0);
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW': {
      // The limit covers the request line too: no line ended before the overflow (in what the
      // parser read last, which holds the whole head but for a client that sends it in pieces)
      // means the request target itself is too long.
      const read = packet.subarray(0, error.bytesParsed ?? packet.length);
      return read.includes('\n')
        ? { code: 'headers_too_large', message: 'the request headers are too large' }
        : { code: 'uri_too_long', message: 'the request target is too long' };
    }
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { code: 'content_too_large', message: 'the request body is too large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { code: 'request_timeout', message: 'the request did not arrive in time' };
    case 'HPE_INVALID_METHOD':
      return refuseMethod(packet.toString('latin1'), routes);
    default:
      return { code: 'bad_request', message: 'the request is not valid HTTP/1.1' };
  }
}

/** A request line: a method token, an origin-form target, the HTTP version (RFC 9112 §3). */
const REQUEST_LINE = /^([!#$%&'*+.^_`|~\w-]+) (\/[^ ?]*)(?:\?[^ ]*)? HTTP\/\d\.\d\r?\n/;

/**
 * The method rule (see method-rule.ts) for a method token Node does not know, such as `FOO` or
 * `get`; bytes that are no request line at all (a TLS handshake, say) are a bad request.
 */
function refuseMethod(head: string, routes: RouteMethods): Refusal {
  const line = REQUEST_LINE.exec(head);
  if (line === null) return { code: 'bad_request', message: 'the request is not valid HTTP/1.1' };
  const [, method = '', path = ''] = line;
  const allow = routes.allowedOn(path);
  if (allow === null) return { code: 'not_found', message: `no such resource: ${printable(path)}` };
  return {
    code: 'method_not_allowed',
    message: `${printable(method)} is not allowed on ${printable(path)}`,
    allow,
  };
}

/** CONNECT asks the server to be a tunnel, which it never is: refused with the method rule's 405. */
export function refuseConnect(routes: RouteMethods): Refusal {
  return {
    code: 'method_not_allowed',
    message: 'CONNECT is not served here',
    allow: routes.served(),
  };
}

/** Writes the refusal on the raw socket, then closes it. */
export function writeRefusal(socket: Duplex, refusal: Refusal): void {
  const status = API_ERRORS[refusal.code];
  const body = errorBody(refusal.code, refusal.message);
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
  ];
  for (let i = 0; i < SECURITY_HEADERS.length; i += 2) {
    lines.push(`${SECURITY_HEADERS[i]}: ${SECURITY_HEADERS[i + 1]}`);
  }
  lines.push(`X-Request-Id: ${requestIdOf(undefined)}`);
  if (refusal.allow !== undefined) lines.push(`Allow: ${refusal.allow.join(', ')}`);
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`, () => socket.destroy());
}

/** A token from the request, safe to echo in a JSON message and a log. */
const printable = (text: string) => text.replace(/[^\x21-\x7e]/g, '?').slice(0, 64);
