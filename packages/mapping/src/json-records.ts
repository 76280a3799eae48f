import { JSONParser } from '@streamparser/json';
import { emptyReading } from '@tessera/core';
import { DocumentError } from './document-error.js';
import type { CompiledMapping } from './feed-format.js';
import { type MapContext, mapRecord, type ValuesAt } from './record-mapper.js';
import type { PathStep } from './record-path.js';
import type { RecordStream, StreamLimits } from './record-stream.js';

/**
 * JSON records with @streamparser/json: only the values at the records' path are built, each
 * handed over and dropped (`keepStack: false`), so a document of any length is read in the
 * memory of its largest record. JSON has no root name to check against the mapping: a document
 * in which the records' path holds no record at all is a mismatch (see docs/partners.md).
 */
export function createJsonRecordStream(
  mapping: CompiledMapping,
  ctx: MapContext,
  limits: StreamLimits,
): RecordStream {
  const parser = new JSONParser({ paths: [toJsonPath(mapping.records)], keepStack: false });
  let reading = emptyReading();
  let records = 0;
  let sinceRecord = 0;
  let failure: unknown;
  parser.onValue = ({ value }) => {
    records++;
    sinceRecord = 0;
    mapRecord(mapping, jsonValuesAt(value), ctx, reading);
  };
  parser.onError = (error) => {
    failure ??= error;
  };
  const malformed = (cause: unknown): DocumentError =>
    cause instanceof DocumentError
      ? cause
      : new DocumentError('malformed', `not well-formed JSON: ${messageOf(cause)}`, { cause });
  return {
    write(text) {
      if (failure !== undefined) throw malformed(failure);
      if (parser.isEnded) {
        if (text.trim() === '') return;
        throw new DocumentError('malformed', 'not well-formed JSON: text after the document');
      }
      try {
        parser.write(text);
      } catch (error) {
        throw malformed(error);
      }
      if (failure !== undefined) throw malformed(failure);
      sinceRecord += text.length;
      if (sinceRecord > limits.maxRecordChars) {
        throw new DocumentError(
          'malformed',
          `no whole record within ${limits.maxRecordChars} characters (MAX_ELEMENT_BYTES)`,
        );
      }
    },
    end() {
      if (!parser.isEnded) {
        try {
          parser.end();
        } catch (error) {
          throw malformed(error);
        }
      }
      if (failure !== undefined) throw malformed(failure);
      if (records === 0) {
        throw new DocumentError('mismatch', "no record at the mapping's records path");
      }
    },
    take() {
      const done = reading;
      reading = emptyReading();
      return done;
    },
  };
}

/** The records' path in the parser's JSONPath subset: `$.a.*.b`. */
export function toJsonPath(steps: readonly PathStep[]): string {
  return `$${steps
    .map((step) => {
      if (step.kind === 'key') return `.${step.name}`;
      if (step.kind === 'each') return '.*';
      if (step.kind === 'index') return `.${step.at}`;
      throw new Error(`a JSON records path has no ${step.kind} step`);
    })
    .join('')}`;
}

export function jsonValuesAt(record: unknown): ValuesAt {
  return (steps) => {
    // Most paths are keys alone: one value or none, walked without the lists below.
    if (steps.every((step) => step.kind === 'key')) {
      let node: unknown = record;
      for (const step of steps) {
        if (!isObject(node) || !Object.hasOwn(node, step.name)) return [];
        node = node[step.name];
      }
      return node === null || node === undefined ? [] : [node];
    }
    let nodes: unknown[] = [record];
    for (const step of steps) {
      const next: unknown[] = [];
      for (const node of nodes) {
        if (step.kind === 'key') {
          if (isObject(node) && Object.hasOwn(node, step.name)) next.push(node[step.name]);
        } else if (step.kind === 'each') {
          if (Array.isArray(node)) next.push(...node);
        } else if (step.kind === 'index') {
          if (Array.isArray(node) && step.at < node.length) next.push(node[step.at]);
        }
      }
      nodes = next;
    }
    return nodes.filter((v) => v !== null && v !== undefined);
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}
