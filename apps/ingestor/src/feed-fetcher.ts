import { pipeline, type Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { FeedValidators } from '@tessera/store';
import { Agent, errors, request } from 'undici';
import { IngestError } from './ingest-error.js';

export interface FetcherOptions {
  url: string;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyIdleTimeoutMs: number;
  maxFeedBytes: number;
}

export type FetchResult =
  | { kind: 'not_modified' }
  | {
      kind: 'feed';
      /** Decompressed bytes; errors with an IngestError past the size cap or on a broken body. */
      body: AsyncIterable<Buffer>;
      url: string;
      etag: string | null;
      lastModified: string | null;
    };

export interface FeedFetcher {
  fetch(previous: FeedValidators, signal: AbortSignal): Promise<FetchResult>;
  close(): Promise<void>;
}

/**
 * One conditional GET of the feed. Separate limits for connecting, for the headers and for an
 * idle body (undici's own); the caller's signal carries the overall deadline.
 */
export function createFeedFetcher(options: FetcherOptions): FeedFetcher {
  const agent = new Agent({
    connect: { timeout: options.connectTimeoutMs },
    headersTimeout: options.headersTimeoutMs,
    bodyTimeout: options.bodyIdleTimeoutMs,
    pipelining: 0,
  });

  return {
    async fetch(previous, signal) {
      const headers: Record<string, string> = {
        accept: 'application/xml, text/xml;q=0.9, */*;q=0.1',
        'accept-encoding': 'gzip, br, deflate',
        'user-agent': 'tessera-ingestor',
      };
      if (previous.url === options.url) {
        if (previous.etag !== null) headers['if-none-match'] = previous.etag;
        if (previous.lastModified !== null) headers['if-modified-since'] = previous.lastModified;
      }

      let response: Awaited<ReturnType<typeof request>>;
      try {
        response = await request(options.url, {
          method: 'GET',
          headers,
          dispatcher: agent,
          signal,
        });
      } catch (cause) {
        throw toIngestError(cause, signal, 'before the headers arrived');
      }
      const { statusCode } = response;
      if (statusCode === 304) {
        response.body.resume();
        return { kind: 'not_modified' };
      }
      if (statusCode < 200 || statusCode >= 300) {
        response.body.resume();
        const retryAfterMs = parseRetryAfter(header(response.headers, 'retry-after'));
        const code = statusCode === 429 ? 'provider_rate_limited' : 'provider_status';
        throw new IngestError(code, `provider answered ${statusCode}`, { retryAfterMs });
      }
      const type = header(response.headers, 'content-type') ?? '';
      if (/html|json/i.test(type)) {
        response.body.resume();
        throw new IngestError('feed_not_xml', `provider answered 200 with ${type}`);
      }
      const body = decode(response.body, header(response.headers, 'content-encoding'));
      return {
        kind: 'feed',
        body: capped(body, options.maxFeedBytes, signal),
        url: options.url,
        etag: header(response.headers, 'etag'),
        lastModified: header(response.headers, 'last-modified'),
      };
    },
    close: () => agent.close(),
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

async function* capped(body: Readable, max: number, signal: AbortSignal): AsyncGenerator<Buffer> {
  let total = 0;
  try {
    for await (const piece of body as AsyncIterable<Buffer>) {
      total += piece.length;
      if (total > max) {
        throw new IngestError('feed_too_large', `feed exceeds MAX_FEED_BYTES (${max} bytes)`);
      }
      yield piece;
    }
  } catch (cause) {
    throw toIngestError(cause, signal, 'while reading the body');
  } finally {
    body.destroy();
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
  if (
    cause instanceof errors.ConnectTimeoutError ||
    cause instanceof errors.HeadersTimeoutError ||
    cause instanceof errors.BodyTimeoutError
  ) {
    return new IngestError('provider_timeout', `${(cause as Error).message} ${when}`, { cause });
  }
  const message = cause instanceof Error ? cause.message : String(cause);
  if (when === 'while reading the body') {
    return /incorrect header|invalid|unexpected end|zlib/i.test(message)
      ? new IngestError('feed_malformed', `body could not be decoded: ${message}`, { cause })
      : new IngestError('feed_interrupted', `connection dropped ${when}: ${message}`, { cause });
  }
  return new IngestError('provider_unreachable', `${message} ${when}`, { cause });
}
