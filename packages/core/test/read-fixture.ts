import { readFileSync } from 'node:fs';
import sax from 'sax';
import { createFeedReader, type FeedReading } from '../src/feed-reader.js';
import type { NormalizeContext } from '../src/normalize-event.js';

/** Tokenizes a whole XML text with sax and runs it through a feed reader. Test helper only. */
export function readFeedText(ctx: NormalizeContext, xml: string): FeedReading {
  const reader = createFeedReader(ctx);
  // strictEntities is a sax option its type definitions do not list.
  const parser = sax.parser(true, { strictEntities: true } as sax.SAXOptions);
  parser.onopentag = (tag) =>
    reader.openElement(tag.name, tag.attributes as Record<string, string>);
  parser.onclosetag = (name) => reader.closeElement(name);
  parser.onerror = (err) => {
    throw err;
  };
  parser.write(xml).close();
  return reader.take();
}

export function readFeedFile(ctx: NormalizeContext, path: string): FeedReading {
  return readFeedText(ctx, readFileSync(path, 'utf8'));
}
