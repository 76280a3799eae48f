import type { MessagePort } from 'node:worker_threads';
import { createTimeZone, type FeedReading } from '@tessera/core';
import {
  compileMapping,
  createRecordStream,
  DocumentError,
  type Mapping,
  type RecordStream,
} from '@tessera/mapping';
import { MAX_DEPTH } from './xml-tokenizer.js';

export interface MappedTask {
  /** Where the main thread sends the feed's pieces and reads back what they yielded. */
  port: MessagePort;
  mapping: Mapping;
  provider: string;
  timeZone: string;
  maxElementBytes: number;
}

/** main → worker: a piece of the feed (UTF-8, moved), or its end. */
export type MappedRequest = { piece: Uint8Array } | { end: true };

/** worker → main, one answer per request, in order. */
export type MappedAnswer =
  | { ok: true; reading: FeedReading }
  | { ok: false; kind: DocumentError['kind']; message: string };

/**
 * Piscina task: reads one mapped feed as a stream, for as long as the poll sends it pieces. A
 * mapped document is not cut into chunks for several threads as the built-in one is (its
 * records' boundaries are the parser's to find), so its whole parse is one task on one thread;
 * the task ends with the document, or with the first fault, or when the poll closes the port.
 */
export default function parseMapped(task: MappedTask): Promise<void> {
  const { port } = task;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let stream: RecordStream | undefined;
  const answer = (request: MappedRequest): MappedAnswer => {
    try {
      stream ??= createRecordStream(
        compileMapping(task.mapping),
        { provider: task.provider, timeZone: createTimeZone(task.timeZone) },
        { maxRecordChars: task.maxElementBytes, maxDepth: MAX_DEPTH },
      );
      if ('piece' in request) {
        stream.write(decoder.decode(request.piece, { stream: true }));
      } else {
        stream.write(decoder.decode());
        stream.end();
      }
      return { ok: true, reading: stream.take() };
    } catch (error) {
      if (error instanceof DocumentError)
        return { ok: false, kind: error.kind, message: error.message };
      // TextDecoder's fatal mode: invalid UTF-8 is a document fault, not something to paper over.
      if (error instanceof TypeError)
        return { ok: false, kind: 'malformed', message: 'the feed is not valid UTF-8' };
      throw error;
    }
  };
  return new Promise((resolve, reject) => {
    port.on('message', (request: MappedRequest) => {
      let reply: MappedAnswer;
      try {
        reply = answer(request);
      } catch (error) {
        port.close();
        reject(error);
        return;
      }
      port.postMessage(reply);
      if (!reply.ok || 'end' in request) port.close();
    });
    port.on('close', () => resolve());
  });
}
