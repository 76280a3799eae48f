import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { pipeline, type Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { FeedValidators } from '@tessera/store';
import { digestUrl, redactUrl } from './feed-config.js';
import { IngestError } from './ingest-error.js';

export interface FetcherOptions {
  url: string;
  /** The feed's own headers (credentials, say): sent to its origin only, never across a redirect elsewhere. */
  headers?: Record<string, string>;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyIdleTimeoutMs: number;
  maxFeedBytes: number;
  /** What the feed's body is: an answer declaring another type is refused before its body is read. */
  expects?: 'xml' | 'json';
  /**
   * What else shapes the records made of this URL's bytes (a mapping): when it changes, the
   * stored validators no longer match, so the next poll fetches the whole feed again rather
   * than hear "not modified" and keep what the old mapping made.
   */
  shapedBy?: string;
}

/** Content-Types that cannot be a feed of each kind, and the code that says so. */
const REFUSED_TYPES = {
  xml: { type: /html|json/i, code: 'feed_not_xml' },
  json: { type: /html|xml/i, code: 'feed_not_json' },
} as const;

export type FetchResult =
  | { kind: 'not_modified' }
  | {
      kind: 'feed';
      /** Decompressed bytes; errors with an IngestError past the size cap or on a broken body. */
      body: AsyncIterable<Buffer>;
      url: string;
      /** What the validators of this answer record as its URL (see `digestUrl`). */
      urlDigest: string;
      etag: string | null;
      lastModified: string | null;
      /** The declared charset of the answer (Content-Type), if any. */
      charset: string | null;
      /** Where a permanent redirect (301, 308) led: the address to configure instead. */
      movedTo: string | null;
    };

export interface FeedFetcher {
  fetch(previous: FeedValidators, signal: AbortSignal): Promise<FetchResult>;
  close(): Promise<void>;
}

/** Redirects followed per poll, as browsers and curl -L bound them. */
export const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const PERMANENT = new Set([301, 308]);

/** One of our own limits passed: the partner was too slow. */
class FetchTimeout extends Error {
  override readonly name = 'FetchTimeout';
}

/**
 * One conditional GET of the feed, with Node's own HTTP client rather than undici: measured
 * against undici 8 on a 400 MiB body, neither costs a second of CPU where parsing the same feed
 * takes minutes, so nothing would move (docs/runtime.md); and the behaviour below is what the
 * fault, nginx and real-server suites hold.
 *
 * Separate limits for connecting, for the headers and for an idle body; the caller's signal
 * carries the overall deadline. Redirects are followed up to MAX_REDIRECTS, never from https to
 * http.
 */
export function createFeedFetcher(options: FetcherOptions): FeedFetcher {
  const urlDigest = digestUrl(
    options.shapedBy === undefined ? options.url : `${options.url}\u0000${options.shapedBy}`,
  );
  // No keep-alive: one request per poll, polls far apart; every answer ends with its connection.
  const agents = {
    'http:': new HttpAgent({ keepAlive: false }),
    'https:': new HttpsAgent({ keepAlive: false }),
  };

  /** One GET; resolves with the response once its headers arrived. */
  const get = (url: URL, headers: Record<string, string>, signal: AbortSignal) =>
    new Promise<IncomingMessage>((resolve, reject) => {
      const https = url.protocol === 'https:';
      const send = https ? httpsRequest : httpRequest;
      const req = send(url, {
        method: 'GET',
        headers,
        agent: agents[https ? 'https:' : 'http:'],
        signal,
      });
      const headersTimer = setTimeout(
        () => req.destroy(new FetchTimeout(`no answer within ${options.headersTimeoutMs} ms`)),
        options.headersTimeoutMs,
      );
      req.once('socket', (socket) => {
        if (!socket.connecting) return;
        const connectTimer = setTimeout(
          () =>
            req.destroy(
              new FetchTimeout(`could not connect within ${options.connectTimeoutMs} ms`),
            ),
          options.connectTimeoutMs,
        );
        const clear = () => clearTimeout(connectTimer);
        socket.once('connect', clear);
        socket.once('close', clear);
      });
      req.once('response', (res) => {
        clearTimeout(headersTimer);
        res.setTimeout(options.bodyIdleTimeoutMs, () =>
          res.destroy(new FetchTimeout(`the body was idle for ${options.bodyIdleTimeoutMs} ms`)),
        );
        resolve(res);
      });
      req.once('error', (error) => {
        clearTimeout(headersTimer);
        reject(error);
      });
      req.end();
    });

  /** GETs the feed, following redirects; resolves with the final answer and where it came from. */
  const follow = async (headers: Record<string, string>, signal: AbortSignal) => {
    let url = new URL(options.url);
    const origin = url.origin;
    let movedTo: string | null = null;
    let permanent = true;
    for (let hop = 0; ; hop++) {
      let response: IncomingMessage;
      const own = url.origin === origin ? options.headers : undefined;
      try {
        response = await get(url, { ...own, ...headers }, signal);
      } catch (cause) {
        throw toIngestError(cause, signal, 'before the headers arrived');
      }
      const status = response.statusCode ?? 0;
      const location = header(response.headers, 'location');
      if (!REDIRECTS.has(status) || location === null) return { response, movedTo };
      response.resume();
      if (hop >= MAX_REDIRECTS) {
        throw new IngestError(
          'provider_status',
          `more than ${MAX_REDIRECTS} redirects from ${redactUrl(options.url)}`,
        );
      }
      const next = new URL(location, url);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new IngestError(
          'provider_status',
          `redirected to ${next.protocol} address ${next.href}`,
        );
      }
      if (url.protocol === 'https:' && next.protocol === 'http:') {
        throw new IngestError(
          'provider_status',
          `refusing a redirect from https to http (${next.href})`,
        );
      }
      // Only a chain of permanent redirects says that the configured address itself moved.
      permanent &&= PERMANENT.has(status);
      movedTo = permanent ? next.href : null;
      url = next;
    }
  };

  return {
    async fetch(previous, signal) {
      const headers: Record<string, string> = {
        accept: 'application/xml, text/xml;q=0.9, */*;q=0.1',
        'accept-encoding': 'gzip, br, deflate',
        'user-agent': 'tessera-ingestor',
      };
      if (previous.urlDigest === urlDigest) {
        if (previous.etag !== null) headers['if-none-match'] = previous.etag;
        if (previous.lastModified !== null) headers['if-modified-since'] = previous.lastModified;
      }
      const { response, movedTo } = await follow(headers, signal);
      const statusCode = response.statusCode ?? 0;
      if (statusCode === 304) {
        response.resume();
        return { kind: 'not_modified' };
      }
      if (statusCode < 200 || statusCode >= 300) {
        response.resume();
        const retryAfterMs = parseRetryAfter(header(response.headers, 'retry-after'));
        const code = statusCode === 429 ? 'provider_rate_limited' : 'provider_status';
        throw new IngestError(code, `provider answered ${statusCode}`, { retryAfterMs });
      }
      const type = header(response.headers, 'content-type') ?? '';
      const refused = REFUSED_TYPES[options.expects ?? 'xml'];
      if (refused.type.test(type)) {
        response.resume();
        throw new IngestError(refused.code, `provider answered 200 with ${type}`);
      }
      const body = decode(response, header(response.headers, 'content-encoding'));
      return {
        kind: 'feed',
        body: capped(body, response, options.maxFeedBytes, signal),
        url: options.url,
        urlDigest,
        etag: header(response.headers, 'etag'),
        lastModified: header(response.headers, 'last-modified'),
        charset: /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(type)?.[1] ?? null,
        movedTo,
      };
    },
    async close() {
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
}

function header(
  headers: Record<string, string | string[] | undefined>,
  name: string,
): string | null {
  const value = headers[name];
  if (value === undefined) return null;
  return Array.isArray(value) ? (value[0] ?? null) : value;
}

/** Retry-After as seconds or an HTTP date, in ms from now; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function decode(body: Readable, encoding: string | null): Readable {
  const name = (encoding ?? 'identity').trim().toLowerCase();
  const decoder =
    name === 'gzip' || name === 'x-gzip'
      ? createGunzip()
      : name === 'br'
        ? createBrotliDecompress()
        : name === 'deflate'
          ? createInflate()
          : undefined;
  if (decoder === undefined) {
    if (name === 'identity' || name === '') return body;
    body.destroy();
    throw new IngestError('unsupported_encoding', `unsupported content-encoding ${name}`);
  }
  // pipeline forwards a body error to the decoder, so the reader sees every failure.
  pipeline(body, decoder, () => {});
  return decoder;
}

async function* capped(
  body: Readable,
  response: IncomingMessage,
  max: number,
  signal: AbortSignal,
): AsyncGenerator<Buffer> {
  let total = 0;
  try {
    for await (const piece of body as AsyncIterable<Buffer>) {
      total += piece.length;
      if (total > max) {
        throw new IngestError('feed_too_large', `feed exceeds MAX_FEED_BYTES (${max} bytes)`);
      }
      yield piece;
    }
    // Node ends a body cut short by the connection without an error: its length says so.
    if (!response.complete) {
      throw new IngestError('feed_interrupted', 'connection closed before the whole body arrived');
    }
  } catch (cause) {
    throw toIngestError(cause, signal, 'while reading the body');
  } finally {
    body.destroy();
    response.destroy();
  }
}

function toIngestError(cause: unknown, signal: AbortSignal, when: string): IngestError {
  if (cause instanceof IngestError) return cause;
  if (signal.aborted) {
    const reason = signal.reason;
    if (reason instanceof IngestError) return reason;
    const timedOut = reason instanceof DOMException && reason.name === 'TimeoutError';
    return timedOut
      ? new IngestError('provider_timeout', `poll deadline passed ${when}`, { cause })
      : new IngestError('aborted', `poll aborted ${when}`, { cause });
  }
  if (cause instanceof FetchTimeout) {
    return new IngestError('provider_timeout', `${cause.message} ${when}`, { cause });
  }
  const message = cause instanceof Error ? cause.message : String(cause);
  if (when === 'while reading the body') {
    // zlib's errors carry its own codes (Z_DATA_ERROR, Z_BUF_ERROR…), brotli's ERR_BROTLI_*.
    const code = String((cause as { code?: unknown })?.code ?? '');
    return /^(Z_|ERR_BROTLI|ERR__ERROR)/.test(code)
      ? new IngestError('feed_malformed', `body could not be decoded: ${message}`, { cause })
      : new IngestError('feed_interrupted', `connection dropped ${when}: ${message}`, { cause });
  }
  return new IngestError('provider_unreachable', `${message} ${when}`, { cause });
}
