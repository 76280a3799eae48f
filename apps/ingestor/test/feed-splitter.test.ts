import { describe, expect, it } from 'vitest';
import type { FeedChunk } from '../src/feed-chunk.js';
import { FeedSplitter } from '../src/feed-splitter.js';
import { IngestError } from '../src/ingest-error.js';

const head = '<?xml version="1.0"?>\n<planList><output>';
const tail = '</output></planList>\n';
const base = (i: number, pad = 0) =>
  `<base_plan base_plan_id="${i}" sell_mode="online" title="Ñandú ${'é'.repeat(pad)}"><plan plan_id="1"/></base_plan>`;

function splitChunks(text: string, pieceBytes: number, chunkBytes: number, runBytes?: number) {
  const s = new FeedSplitter({ chunkBytes, maxElementBytes: 4096, runBytes });
  const bytes = Buffer.from(text);
  const chunks: FeedChunk[] = [];
  for (let i = 0; i < bytes.length; i += pieceBytes)
    chunks.push(...s.push(bytes.subarray(i, i + pieceBytes)));
  chunks.push(...s.end());
  return { chunks, head: s.head.toString(), tail: s.tail.toString() };
}

function split(text: string, pieceBytes: number, chunkBytes: number) {
  const { chunks, ...rest } = splitChunks(text, pieceBytes, chunkBytes);
  return { chunks: chunks.map((c) => c.bytes), ...rest };
}

/** A chunk's runs, as a worker decodes them. */
const runsOf = ({ bytes, runEnds }: FeedChunk): string[] =>
  [0, ...runEnds].map((from, i) => bytes.toString('utf8', from, runEnds[i] ?? bytes.length));

describe('FeedSplitter', () => {
  it.each([1, 3, 7, 64, 10_000])(
    'steps over comments, CDATA and PIs that spell base tags, whatever the piece size (%i bytes)',
    (piece) => {
      const opaqueHead = `${head}<!-- old: <base_plan base_plan_id="x"> --><?pi <base_plan ?>`;
      const bases = [
        base(1),
        '<!-- </base_plan> -->',
        base(2).replace('<plan ', '<![CDATA[ </base_plan> ]]><plan '),
        '<?note </base_plan>?>',
        base(3),
      ];
      const { chunks, head: h, tail: t } = split(opaqueHead + bases.join('') + tail, piece, 60);
      expect(h).toBe(opaqueHead);
      expect(t).toBe(tail);
      expect(chunks.map((c) => c.toString('utf8')).join('')).toBe(bases.join(''));
      for (const c of chunks) expect(c.toString('utf8').endsWith('</base_plan>')).toBe(true);
    },
  );

  it.each([1, 7, 64, 10_000])(
    'cuts at base boundaries whatever the piece size (%i bytes)',
    (piece) => {
      const bases = Array.from({ length: 40 }, (_, i) => base(i, i % 5));
      const { chunks, head: h, tail: t } = split(head + bases.join('\n') + tail, piece, 200);
      expect(h).toBe(head);
      expect(t).toBe(tail);
      expect(chunks.length).toBeGreaterThan(1);
      const text = chunks.map((c) => c.toString('utf8')).join('');
      expect(text).toBe(bases.join('\n'));
      for (const c of chunks) {
        const s = c.toString('utf8');
        expect(s.trimStart().startsWith('<base_plan')).toBe(true);
        expect(s.endsWith('</base_plan>')).toBe(true);
        expect(s).not.toContain('\uFFFD');
      }
    },
  );

  it.each([5, 5_000])(
    'gives every chunk an ArrayBuffer of its own, safe to transfer (%i-byte pieces)',
    (piece) => {
      const bases = Array.from({ length: 200 }, (_, i) => base(i, i % 7));
      const s = new FeedSplitter({ chunkBytes: 2_000, maxElementBytes: 4096 });
      const bytes = Buffer.from(head + bases.join('') + tail);
      const texts: string[] = [];
      const transfer = (chunks: FeedChunk[]) => {
        for (const { bytes: c } of chunks) {
          const text = c.toString('utf8');
          // Moved to a worker as piscina does: the ArrayBuffer is detached here.
          const moved = structuredClone(c.buffer, { transfer: [c.buffer as ArrayBuffer] });
          expect(moved.byteLength).toBeGreaterThanOrEqual(text.length);
          texts.push(text);
        }
      };
      for (let i = 0; i < bytes.length; i += piece) transfer(s.push(bytes.subarray(i, i + piece)));
      transfer(s.end());
      // Nothing the splitter still holds, nor any later chunk, lived in a moved buffer.
      expect(texts.join('')).toBe(bases.join(''));
      expect(s.tail.toString()).toBe(tail);
    },
  );

  it.each([1, 7, 64, 10_000])(
    'ends runs only after a closing base tag in markup, about runBytes apart (%i-byte pieces)',
    (piece) => {
      const decoys = ['', '<!-- </base_plan> -->', '<?p </base_plan>?>'];
      const bases = Array.from({ length: 60 }, (_, i) =>
        base(i, i % 5).replace('<plan ', `${decoys[i % 3]}<plan `),
      );
      const { chunks } = splitChunks(head + bases.join('\n') + tail, piece, 2_000, 300);
      const runs = chunks.flatMap(runsOf);
      expect(runs.join('')).toBe(bases.join('\n'));
      for (const run of runs) {
        // Whole elements: a cut inside a comment or PI would start a run with its rest.
        expect(run.trimStart().startsWith('<base_plan ')).toBe(true);
        expect(run.endsWith('</base_plan>')).toBe(true);
      }
      // Runs of several elements, several to a chunk.
      expect(runs.length).toBeGreaterThan(chunks.length);
      expect(runs.length).toBeLessThan(bases.length / 2);
    },
  );

  it('treats a document without base elements as all head', () => {
    const { chunks, head: h, tail: t } = split('<planList><output/></planList>', 3, 100);
    expect(chunks).toEqual([]);
    expect(h).toBe('<planList><output/></planList>');
    expect(t).toBe('');
  });

  it('leaves a truncated last element in the tail, for the envelope check to refuse', () => {
    const truncated = head + base(1) + base(2).slice(0, 30);
    const { chunks, tail: t } = split(truncated, 16, 10);
    expect(chunks.map((c) => c.toString()).join('')).toBe(base(1));
    expect(t).toBe(base(2).slice(0, 30));
  });

  it('refuses an element larger than maxElementBytes', () => {
    const s = new FeedSplitter({ chunkBytes: 100, maxElementBytes: 1000 });
    s.push(Buffer.from(head + base(1)));
    const huge = Buffer.from(base(2, 2000));
    expect(() => {
      for (let i = 0; i < huge.length - 20; i += 100)
        s.push(huge.subarray(i, Math.min(i + 100, huge.length - 20)));
    }).toThrow(IngestError);
  });

  it('refuses a head with no base element within maxElementBytes', () => {
    const s = new FeedSplitter({ chunkBytes: 100, maxElementBytes: 1000 });
    expect(() => s.push(Buffer.alloc(2000, 0x20))).toThrow(/no base element/);
  });
});
