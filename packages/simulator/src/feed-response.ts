import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import type { VocabularyName } from '@tessera/core';
import { faultDocument, gzipBomb, htmlErrorPage } from './fault-documents.js';
import type { Fault } from './fault-plan.js';
import type { FeedBody } from './source.js';

export interface FeedResponseOptions {
  vocabulary: VocabularyName;
  /** gzip full responses to clients that accept it. */
  compress: boolean;
  /** Send ETags and answer If-None-Match with 304. */
  conditional: boolean;
  /** Where an external entity in the entity-bomb document points (the control API). */
  externalEntityUrl: string;
  /** Resolves when the control API releases held responses. */
  released(): Promise<void>;
}

const XML_TYPE = 'application/xml; charset=utf-8';

/**
 * Answers one feed request with `body`, misbehaving as `fault` says. Resolves with true when a
 * whole feed was served (so that the source moves on), false otherwise.
 */
export async function sendFeed(
  req: IncomingMessage,
  res: ServerResponse,
  body: FeedBody,
  fault: Fault,
  options: FeedResponseOptions,
): Promise<boolean> {
  if (await sendFault(res, fault, options)) return false;
  const headers: Record<string, string> = { 'content-type': body.contentType ?? XML_TYPE };
  if (options.conditional) headers.etag = body.etag;
  const cutting = fault.kind === 'reset' || fault.kind === 'truncate';
  if (!cutting && options.conditional && req.headers['if-none-match'] === body.etag) {
    res.writeHead(304, { etag: body.etag }).end();
    return false;
  }
  if (cutting) {
    sendCut(res, body, fault, headers);
    return false;
  }
  if (body.bytes === undefined) return sendStream(res, body.stream!(), fault, headers, options);
  const gzip = options.compress && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  const payload = gzip ? gzipSync(body.bytes) : body.bytes;
  headers['content-length'] = String(payload.length);
  if (gzip) headers['content-encoding'] = 'gzip';
  res.writeHead(200, headers);
  return sendPieces(res, [payload], fault, options);
}

/** The faults that replace the feed altogether; true when one was sent. */
async function sendFault(
  res: ServerResponse,
  fault: Fault,
  options: FeedResponseOptions,
): Promise<boolean> {
  switch (fault.kind) {
    case 'delay':
      await sleep(fault.ms);
      return false;
    case 'status': {
      const headers: Record<string, string> = { 'content-type': 'text/plain' };
      if (fault.retryAfterSeconds !== undefined)
        headers['retry-after'] = String(fault.retryAfterSeconds);
      res.writeHead(fault.status, headers).end(`provider error ${fault.status}\n`);
      return true;
    }
    case 'html200':
      res.writeHead(200, { 'content-type': 'text/html' }).end(htmlErrorPage());
      return true;
    case 'malformed':
    case 'wrong_root':
    case 'invalid_dates':
    case 'missing_attributes':
    case 'huge_attribute':
    case 'deep_nesting':
    case 'entity_bomb': {
      const doc = faultDocument(fault, options.vocabulary, options.externalEntityUrl);
      res.writeHead(200, { 'content-type': XML_TYPE, etag: `"${fault.kind}"` }).end(doc);
      return true;
    }
    case 'gzip_bomb':
      res.writeHead(200, {
        'content-type': XML_TYPE,
        'content-encoding': 'gzip',
        etag: '"gzip-bomb"',
      });
      for (const member of gzipBomb(fault.inflatedBytes)) await write(res, member);
      res.end();
      return true;
    default:
      return false;
  }
}

/** Announces the whole body, sends part of it, then resets or closes the connection. */
function sendCut(
  res: ServerResponse,
  body: FeedBody,
  fault: Extract<Fault, { kind: 'reset' | 'truncate' }>,
  headers: Record<string, string>,
): void {
  const bytes = body.bytes ?? Buffer.concat([...(body.stream?.() ?? [])].slice(0, 64));
  const cut = Math.min(fault.afterBytes, Math.max(0, bytes.length - 1));
  res.writeHead(200, { ...headers, 'content-length': String(bytes.length) });
  res.write(bytes.subarray(0, cut), () => {
    if (fault.kind === 'reset') res.socket?.resetAndDestroy();
    else res.socket?.end();
  });
}

async function sendStream(
  res: ServerResponse,
  pieces: Iterable<Buffer>,
  fault: Fault,
  headers: Record<string, string>,
  options: FeedResponseOptions,
): Promise<boolean> {
  res.writeHead(200, headers);
  return sendPieces(res, pieces, fault, options);
}

/** Writes the body's pieces as the fault says: all at once, dripped, or held part way. */
async function sendPieces(
  res: ServerResponse,
  pieces: Iterable<Buffer>,
  fault: Fault,
  options: FeedResponseOptions,
): Promise<boolean> {
  let sent = 0;
  let held = false;
  for (const piece of pieces) {
    for (const part of fault.kind === 'drip' ? slices(piece, fault.bytesPerTick) : [piece]) {
      if (res.destroyed) return false;
      if (fault.kind === 'hold' && !held && sent + part.length > fault.afterBytes) {
        const before = Math.max(0, fault.afterBytes - sent);
        await write(res, part.subarray(0, before));
        held = true;
        await options.released();
        if (res.destroyed) return false;
        await write(res, part.subarray(before));
      } else {
        await write(res, part);
      }
      sent += part.length;
      if (fault.kind === 'drip') await sleep(fault.intervalMs);
    }
  }
  res.end();
  return true;
}

function* slices(piece: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < piece.length; i += size) yield piece.subarray(i, i + size);
}

async function write(res: ServerResponse, bytes: Buffer): Promise<void> {
  if (res.write(bytes)) return;
  // A client that hangs up never drains: 'close' ends the wait too.
  await new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
