import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { APP_NODE_OPTIONS } from '@tessera/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { createParserPool, type ParserPool } from '../src/parser-pool.js';

/** The process's threads, as the kernel counts them: a stopped worker is one fewer. */
function threadCount(): number {
  return Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
}

const chunk = (bases: number): Uint8Array =>
  Buffer.from(
    Array.from(
      { length: bases },
      (_, i) =>
        `<base_plan base_plan_id="${i}" sell_mode="online" title="t"><plan plan_id="1" plan_start_date="2021-06-30T21:00:00" plan_end_date="2021-06-30T22:00:00"/></base_plan>`,
    ).join(''),
  );

async function parse(pool: ParserPool, bases: number): Promise<void> {
  const result = await pool.parse({ chunk: chunk(bases), provider: 'p', timeZone: 'UTC' });
  expect(result.ok).toBe(true);
}

/**
 * Run in a process of its own started as the ingestor is: parses 40 chunks on two threads, lets
 * the pool stop them, and prints the MiB of V8's 256 KiB heap pages resident at the start, while
 * parsing, and once the threads are stopped.
 */
const HEAP_RELEASE_SCRIPT = `
import { readFileSync } from 'node:fs';
const { createParserPool } = await import(${JSON.stringify(new URL('../dist/parser-pool.js', import.meta.url).href)});
const heapPages = () => {
  let size = 0, kib = 0;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\\n')) {
    const range = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (range) size = parseInt(range[2], 16) - parseInt(range[1], 16);
    else if (size === 262144 && line.startsWith('Anonymous:')) kib += Number(line.split(/\\s+/)[1]);
  }
  return kib / 1024;
};
const chunk = (k) => Buffer.from(Array.from({ length: 5000 }, (_, i) =>
  '<base_plan base_plan_id="' + k + '-' + i + '" sell_mode="online" title="t' + i + '"><plan plan_id="1" plan_start_date="2021-06-30T21:00:00" plan_end_date="2021-06-30T22:00:00"><zone zone_id="1" capacity="1" price="' + i + '.5" name="z" numbered="false"/></plan></base_plan>').join(''));
const pool = createParserPool({ threads: 2, releaseAfterBytes: 1024 });
await pool.warm();
const start = heapPages();
const end = pool.begin();
for (let k = 0; k < 20; k++) await Promise.all([0, 1].map((j) => pool.parse({ chunk: chunk(2 * k + j), provider: 'p', timeZone: 'UTC' })));
const parsing = heapPages();
await end();
const stopped = heapPages();
await pool.close();
console.log(JSON.stringify({ start, parsing, stopped }));
`;

let pool: ParserPool | undefined;
afterEach(async () => {
  await pool?.close();
});

describe('parser pool', () => {
  it('stops its threads when the last parse ends after a large feed, and starts them again for the next', async () => {
    pool = createParserPool({ threads: 2, releaseAfterBytes: 64 * 1024 });
    await pool.warm();
    const running = threadCount();

    const endA = pool.begin();
    const endB = pool.begin();
    await parse(pool, 1_000);
    await endA();
    await endA(); // idempotent: it does not count B's parse out too
    // Another feed is still being parsed: the threads stay.
    expect(threadCount()).toBe(running);
    await endB();
    expect(threadCount()).toBeLessThanOrEqual(running - 2);

    const end = pool.begin();
    await parse(pool, 10);
    expect(threadCount()).toBeGreaterThanOrEqual(running - 1);
    await end();
  });

  it('parses a chunk that is a small pooled Buffer (copied), and moves any other chunk whole (not copied)', async () => {
    pool = createParserPool({ threads: 1 });
    const small = Buffer.from(new TextDecoder().decode(chunk(1)));
    expect(small.buffer.byteLength).toBeGreaterThan(small.byteLength); // one of Node's pool slabs
    expect((await pool.parse({ chunk: small, provider: 'p', timeZone: 'UTC' })).ok).toBe(true);
    expect(small.byteLength).toBeGreaterThan(0); // copied: the slab stays

    // A chunk that is the first part of its buffer, as the splitter hands over: moved, and only
    // its own bytes are parsed.
    const whole = Buffer.from(new Uint8Array(chunk(20)).buffer); // an ArrayBuffer of its own
    const first = whole.subarray(0, whole.indexOf('</base_plan>') + '</base_plan>'.length);
    const result = await pool.parse({ chunk: first, provider: 'p', timeZone: 'UTC' });
    expect(result.ok && result.reading.records).toHaveLength(1);
    expect(whole.buffer.byteLength).toBe(0); // detached: moved, not copied
  });

  it("gives the stopped threads' heaps back to the system, in a process started as the ingestor is", () => {
    const out = execFileSync(
      process.execPath,
      [...APP_NODE_OPTIONS.ingestor, '--input-type=module', '-e', HEAP_RELEASE_SCRIPT],
      { encoding: 'utf8' },
    );
    const { start, parsing, stopped } = JSON.parse(out) as {
      start: number;
      parsing: number;
      stopped: number;
    };
    // The parse grows the threads' heaps by tens of MiB; stopping them must return most of it
    // (Node 26 keeps a stopped isolate's pages unless told not to; see APP_NODE_OPTIONS).
    expect(parsing - start).toBeGreaterThan(16);
    expect(stopped - start, JSON.stringify({ start, parsing, stopped })).toBeLessThan(
      (parsing - start) / 2,
    );
  });

  it('keeps its threads warm after feeds smaller than the threshold', async () => {
    pool = createParserPool({ threads: 2, releaseAfterBytes: 64 * 1024 ** 2 });
    await pool.warm();
    const running = threadCount();
    for (let i = 0; i < 3; i++) {
      const end = pool.begin();
      await parse(pool, 100);
      await end();
    }
    expect(threadCount()).toBe(running);
  });
});
