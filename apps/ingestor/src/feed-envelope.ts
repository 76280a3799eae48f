import { OUTPUT_ELEMENT, type Vocabulary, vocabularyForRoot } from '@tessera/core';
import { IngestError } from './ingest-error.js';
import { tokenizeXml } from './xml-tokenizer.js';

/**
 * Checks what surrounds the base elements (the splitter's head and tail) as one document:
 * well-formed, no DOCTYPE, a known root, and its `<output>`. This is what catches an HTML error
 * page served with 200, a truncated body and a wrong root element.
 */
export function checkEnvelope(head: Buffer, tail: Buffer): Vocabulary {
  const text = Buffer.concat([head, tail]).toString('utf8');
  let root: string | undefined;
  let output = false;
  try {
    tokenizeXml(text, {
      open(name, _attributes, depth) {
        if (depth === 1) root = name;
        if (depth === 2 && name === OUTPUT_ELEMENT) output = true;
      },
      close() {},
    });
  } catch (cause) {
    if (root === undefined && /^\s*(<!doctype html|<html)/i.test(text)) {
      throw new IngestError('feed_not_xml', 'provider sent an HTML page', { cause });
    }
    throw new IngestError('feed_malformed', `feed is not well-formed: ${firstLine(cause)}`, {
      cause,
    });
  }
  const vocabulary = root === undefined ? undefined : vocabularyForRoot(root);
  if (vocabulary === undefined) {
    const code = root?.toLowerCase() === 'html' ? 'feed_not_xml' : 'feed_malformed';
    throw new IngestError(code, `unexpected root element ${root ?? '(none)'}`);
  }
  if (!output) throw new IngestError('feed_malformed', `${root} has no <output> element`);
  return vocabulary;
}

export function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}
