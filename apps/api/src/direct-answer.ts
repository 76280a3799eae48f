import type { ServerResponse } from 'node:http';
import { headerTemplate, withRequestId } from './common-headers.js';
import { matchesIfNoneMatch } from './etag.js';

export const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * A request whose route writes its answer straight to the Node response (/search, /events/{id}):
 * what it reads, and where it writes.
 */
export interface DirectExchange {
  ifNoneMatch: string | undefined;
  res: ServerResponse;
  requestId: string;
  /** The answer is decided and about to be written with this status: nothing can fail it now but the connection. */
  begin(status: number): void;
}

/**
 * The headers of a JSON answer, built once per answer (see headerTemplate); `length` when the
 * body's is known (a streamed answer goes out chunked).
 */
export function jsonAnswerHeaders(etag: string, length?: number, extra: readonly string[] = []) {
  return headerTemplate([
    'Content-Type',
    JSON_TYPE,
    'Cache-Control',
    'no-cache',
    'ETag',
    etag,
    ...extra,
    ...(length === undefined ? [] : ['Content-Length', String(length)]),
  ]);
}

/** Answers 304 when If-None-Match names `etag`; true if it did. */
export function answerNotModified(x: DirectExchange, etag: string): boolean {
  if (!matchesIfNoneMatch(x.ifNoneMatch, etag)) return false;
  x.begin(304);
  x.res.writeHead(
    304,
    withRequestId(headerTemplate(['Cache-Control', 'no-cache', 'ETag', etag]), x.requestId),
  );
  x.res.end();
  return true;
}

/** Writes a whole answer with its prepared headers; Node leaves the body out of an answer to HEAD. */
export function sendAnswer(x: DirectExchange, headers: readonly string[], body: Buffer): void {
  x.begin(200);
  x.res.writeHead(200, withRequestId(headers, x.requestId));
  x.res.end(body);
}
