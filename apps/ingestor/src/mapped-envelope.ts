import sax from 'sax';
import { firstLine } from './feed-envelope.js';
import { IngestError } from './ingest-error.js';
import { tokenizeXml } from './xml-tokenizer.js';

/**
 * What surrounds a mapped XML feed's units (the splitter's head and tail), checked as one
 * document: well-formed, no DOCTYPE, and the units found where the records path puts them (the
 * elements open where the head ends are `above`, from the root). The first is `feed_malformed`;
 * a document of another shape is `feed_mismatch`.
 */
export function checkMappedXmlEnvelope(
  head: Buffer,
  tail: Buffer,
  above: readonly string[],
  found: boolean,
): void {
  const text = Buffer.concat([head, tail]).toString('utf8');
  let root: string | undefined;
  try {
    tokenizeXml(text, {
      open(name, _attributes, depth) {
        if (depth === 1) root = name;
      },
      close() {},
    });
  } catch (cause) {
    throw new IngestError('feed_malformed', `feed is not well-formed: ${firstLine(cause)}`, {
      cause,
    });
  }
  if (root !== above[0]) {
    throw new IngestError(
      'feed_mismatch',
      `the root element is <${root ?? '(none)'}>, not <${above[0]}>`,
    );
  }
  if (!found) return; // a document of the right root with no record in it: an empty feed
  const open = openElementsAtEnd(head.toString('utf8'));
  if (open.join('/') !== above.join('/')) {
    throw new IngestError(
      'feed_mismatch',
      `records found inside ${open.join('/')}, not ${above.join('/')}`,
    );
  }
}

/** The elements still open at the end of a document's beginning, from the root. */
function openElementsAtEnd(prefix: string): string[] {
  const parser = sax.parser(true, { strictEntities: true } as sax.SAXOptions);
  const open: string[] = [];
  // A self-closing element is opened and closed at once.
  parser.onopentag = (tag) => {
    open.push(tag.name);
  };
  parser.onclosetag = () => {
    open.pop();
  };
  parser.write(prefix);
  return open;
}

/**
 * What surrounds a mapped JSON feed's records, checked as one document (its records' array
 * emptied): well-formed JSON, and the array found at all (`feed_mismatch` if not).
 */
export function checkMappedJsonEnvelope(head: Buffer, tail: Buffer, found: boolean): void {
  const text = Buffer.concat([head, tail]).toString('utf8');
  try {
    JSON.parse(text);
  } catch (cause) {
    throw new IngestError('feed_malformed', `not well-formed JSON: ${firstLine(cause)}`, { cause });
  }
  if (!found) throw new IngestError('feed_mismatch', "no array at the mapping's records path");
}
