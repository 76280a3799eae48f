import { createRandom } from '@tessera/simulator';
import { describe, expect, it } from 'vitest';
import type { FeedChunk } from '../src/feed-chunk.js';
import { JsonRecordSplitter } from '../src/json-splitter.js';

const SEED = Number(process.env.JSON_SPLIT_SEED ?? Date.now() % 1_000_000);

/** JSON values of every shape, with strings that hold quotes, backslashes and brackets. */
function valueMaker(random: () => number) {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const value = (depth: number): unknown => {
    const kind = depth > 3 ? pick(['s', 'n', 'b']) : pick(['s', 'n', 'b', 'o', 'a', 'z']);
    if (kind === 's')
      return pick(['plain', 'q"uote', 'back\\slash\\', '[{]}', ',:', 'é☃🎭', '\\"', '']);
    if (kind === 'n') return pick([0, -1.5, 1e21, 123456789, 3.14]);
    if (kind === 'b') return random() < 0.5;
    if (kind === 'z') return null;
    if (kind === 'a')
      return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
    return Object.fromEntries(
      Array.from({ length: Math.floor(random() * 4) }, (_, i) => [
        pick(['k', 'a"b', '[', `f${i}`]) + i,
        value(depth + 1),
      ]),
    );
  };
  return { pick, value };
}

function split(
  text: string,
  keys: string[],
  random: () => number,
  chunkBytes: number,
  runBytes?: number,
) {
  const splitter = new JsonRecordSplitter(keys, { chunkBytes, maxElementBytes: 1 << 20, runBytes });
  const bytes = Buffer.from(text);
  const chunks: FeedChunk[] = [];
  for (let at = 0; at < bytes.length; ) {
    const size = 1 + Math.floor(random() * 40);
    chunks.push(...splitter.push(Buffer.from(bytes.subarray(at, at + size))));
    at += size;
  }
  chunks.push(...splitter.end());
  return { splitter, chunks };
}

describe(`JsonRecordSplitter against JSON.parse of the whole document (JSON_SPLIT_SEED=${SEED})`, () => {
  it('hands over every record whole, once, in order; head and tail make the rest of the document', () => {
    const random = createRandom(SEED);
    const { pick, value } = valueMaker(random);
    let cutInRuns = 0;
    for (let n = 0; n < 300; n++) {
      const keys = pick([[], ['data'], ['_embedded', 'events'], ['a', 'b', 'c']]);
      const records = Array.from({ length: Math.floor(random() * 12) }, () => value(0));
      let doc: unknown = records;
      for (const key of [...keys].reverse()) {
        doc = { before: value(1), [`${key}x`]: value(1), [key]: doc, after: value(1) };
      }
      const text = JSON.stringify(doc, null, pick([0, 1, '\t']));
      const where = `document ${n} (JSON_SPLIT_SEED=${SEED}): ${text.slice(0, 200)}`;
      const chunkBytes = 1 + Math.floor(random() * 200);
      const runBytes = 1 + Math.floor(random() * chunkBytes);
      const { splitter, chunks } = split(text, keys, random, chunkBytes, runBytes);
      expect(splitter.found, where).toBe(true);
      expect(
        chunks.flatMap((c) => JSON.parse(`[${c.bytes.toString('utf8')}]`)),
        where,
      ).toEqual(records);
      // Read run by run: each after a chunk's first begins with the comma before its first record.
      const runs = chunks.flatMap(({ bytes, runEnds }) =>
        [0, ...runEnds].map((from, i) => ({
          text: bytes.toString('utf8', from, runEnds[i] ?? bytes.length),
          first: i === 0,
        })),
      );
      for (const run of runs) if (!run.first) expect(run.text.startsWith(','), where).toBe(true);
      expect(
        runs.flatMap(({ text, first }) => JSON.parse(`[${first ? text : text.slice(1)}]`)),
        where,
      ).toEqual(records);
      if (runs.length > chunks.length) cutInRuns++;
      expect(splitter.records, where).toBe(records.length);
      const rest = JSON.parse(Buffer.concat([splitter.head, splitter.tail]).toString('utf8'));
      // The document with its records' array emptied.
      const strip = (d: unknown, k: string[]): unknown =>
        k.length === 0
          ? []
          : { ...(d as object), [k[0]!]: strip((d as Record<string, unknown>)[k[0]!], k.slice(1)) };
      expect(rest, where).toEqual(strip(JSON.parse(text), keys));
    }
    expect(cutInRuns).toBeGreaterThan(30);
  });

  it('a document without the records path hands over nothing and says so', () => {
    const random = createRandom(SEED);
    const { splitter, chunks } = split(
      '{"data":{"items":[1,2]},"events":[3]}',
      ['data', 'events'],
      random,
      10,
    );
    expect(chunks).toEqual([]);
    expect(splitter.found).toBe(false);
    expect(JSON.parse(splitter.head.toString())).toEqual({ data: { items: [1, 2] }, events: [3] });
  });

  it('a record larger than the cap is refused', () => {
    const splitter = new JsonRecordSplitter([], { chunkBytes: 10, maxElementBytes: 100 });
    expect(() => splitter.push(Buffer.from(`[{"a":"${'x'.repeat(500)}`))).toThrow(
      /MAX_ELEMENT_BYTES/,
    );
  });
});
