import sax from 'sax';

export interface TokenHandlers {
  open(name: string, attributes: Record<string, string>, depth: number): void;
  close(name: string, depth: number): void;
}

/** Deeper than any real feed (root > output > base > event > zone is 5). */
export const MAX_DEPTH = 32;

/**
 * Strict, non-validating tokenizing of a whole XML text with sax, given whole or as consecutive
 * pieces (taken as they are read). Only the five predefined entities are decoded
 * (strictEntities); a DOCTYPE is refused outright, so no entity is ever declared, expanded or
 * fetched. Throws on the first well-formedness error.
 */
export function tokenizeXml(text: string | Iterable<string>, handlers: TokenHandlers): void {
  // strictEntities is a sax option its type definitions do not list.
  const parser = sax.parser(true, { strictEntities: true, position: false } as sax.SAXOptions);
  let depth = 0;
  let failure: Error | undefined;
  parser.onopentag = (tag) => {
    depth++;
    if (depth > MAX_DEPTH) throw new Error(`elements nested deeper than ${MAX_DEPTH}`);
    handlers.open(tag.name, tag.attributes as Record<string, string>, depth);
  };
  parser.onclosetag = (name) => {
    handlers.close(name, depth);
    depth--;
  };
  parser.ondoctype = () => {
    throw new Error('DOCTYPE declarations are not accepted');
  };
  parser.onerror = (error) => {
    failure = error;
    throw error;
  };
  try {
    if (typeof text === 'string') parser.write(text);
    else for (const piece of text) parser.write(piece);
    parser.close();
  } catch (error) {
    throw failure ?? error;
  }
}
