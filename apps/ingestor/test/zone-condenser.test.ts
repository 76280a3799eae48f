import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { createFeedReader, createTimeZone, type FeedReading, VOCABULARIES } from '@tessera/core';
import { generateFeed } from '@tessera/simulator';
import { describe, expect, it } from 'vitest';
import { tokenizeXml } from '../src/xml-tokenizer.js';
import { condenseZones } from '../src/zone-condenser.js';

const ctx = { provider: 'feverup', timeZone: createTimeZone('UTC') };

function read(xml: string): FeedReading {
  const reader = createFeedReader(ctx);
  tokenizeXml(xml, {
    open: (name, attributes) => reader.openElement(name, attributes),
    close: (name) => reader.closeElement(name),
  });
  return reader.take();
}

const BUILT = new URL('../dist/zone-condenser.js', import.meta.url).href;

/** The built condenser on `xml` in a worker thread, terminated if it has not answered by the deadline. */
async function condenseInWorker(xml: string, deadlineMs: number): Promise<string> {
  const worker = new Worker(
    `import(${JSON.stringify(BUILT)}).then(({ condenseZones }) =>
       require('node:worker_threads').parentPort.postMessage(condenseZones(require('node:worker_threads').workerData)));`,
    { eval: true, workerData: xml },
  );
  const timer = setTimeout(() => void worker.terminate(), deadlineMs);
  try {
    const [answer] = (await Promise.race([
      once(worker, 'message'),
      once(worker, 'exit').then(() => {
        throw new Error(`the condenser did not finish within ${deadlineMs} ms`);
      }),
    ])) as [string];
    return answer;
  } finally {
    clearTimeout(timer);
    await worker.terminate();
  }
}

const wrap = (zones: string) =>
  `<planList><output><base_plan base_plan_id="1" sell_mode="online" title="T"><plan plan_id="1" plan_start_date="2021-06-30T21:00:00" plan_end_date="2021-06-30T22:00:00">${zones}</plan></base_plan></output></planList>`;

describe('condenseZones', () => {
  it('reads exactly as sax reads the original, flaws included', () => {
    for (const { name: vocabulary } of VOCABULARIES) {
      const xml = Buffer.concat([
        ...generateFeed({
          vocabulary,
          bases: 200,
          eventsPerBase: 3,
          zonesPerEvent: 25,
          flawRatio: 0.2,
          seed: 11,
        }),
      ]).toString();
      const condensed = condenseZones(xml);
      expect(condensed.length).toBeLessThan(xml.length / 5);
      expect(read(condensed)).toEqual(read(xml));
    }
  });

  it('keeps the lowest and highest price of a run, as written', () => {
    const zones = ['20.00', '15.50', '30.00', '15.5']
      .map((p) => `<zone zone_id="1" price="${p}" />`)
      .join('\n  ');
    expect(condenseZones(wrap(zones))).toBe(wrap('<zone price="15.50"/><zone price="30.00"/>'));
  });

  it.each([
    ['an invalid price', '<zone price="free"/>'],
    ['a missing price', '<zone name="x"/>'],
    ['an entity in a value', '<zone price="10.00" name="A &amp; B"/>'],
    ['single quotes', "<zone price='10.00'/>"],
    ['a zone with content', '<zone price="10.00"></zone>'],
    ['a malformed tag', '<zone price="10.00" <x/>'],
  ])('leaves %s for sax, so the outcome is what sax decides', (_label, odd) => {
    const plain = (p: string) => `<zone price="${p}"/>`;
    const xml = wrap(
      `${plain('1.00')}${plain('2.00')}${plain('3.00')}${odd}${plain('4.00')}${plain('5.00')}${plain('6.00')}`,
    );
    const condensed = condenseZones(xml);
    expect(condensed).toContain(odd);
    let original: FeedReading | Error;
    let result: FeedReading | Error;
    try {
      original = read(xml);
    } catch (error) {
      original = error as Error;
    }
    try {
      result = read(condensed);
    } catch (error) {
      result = error as Error;
    }
    if (original instanceof Error) expect(result).toBeInstanceOf(Error);
    else expect(result).toEqual(original);
  });

  it('leaves short runs and zone-free text untouched', () => {
    const two = wrap('<zone price="1.00"/><zone price="2.00"/>');
    expect(condenseZones(two)).toBe(two);
    expect(condenseZones('<planList><output/></planList>')).toBe('<planList><output/></planList>');
  });

  it("reads a price only from the tag's own attributes: not from a value, not past the tag", () => {
    const zone = (attributes: string) => `<zone ${attributes}/>`;
    // A value that reads like a price attribute, or a `>` inside a value, is stepped over.
    const tricky = [
      zone('name="a price=" price="3.00"'),
      zone('name="x>y" price="1.00"'),
      zone('price="2.00" price="9.00"'), // sax keeps the first of a repeated attribute
    ].join('');
    expect(condenseZones(wrap(tricky))).toBe(wrap('<zone price="1.00"/><zone price="3.00"/>'));
    // No price of its own: the run stops there, whatever prices follow.
    const unpriced = [zone('price="1.00"'), zone('name="n"'), zone('price="5.00"')].join('');
    expect(condenseZones(wrap(unpriced))).toBe(wrap(unpriced));
  });

  it('does work in proportion to the text when zones lack a price (no scan to the next price per zone)', async () => {
    // Searching on for each zone's price made this quadratic: ~1.6 s for 20,000 such zones, so
    // the 200,000 here would take hours; read in proportion, tens of milliseconds. A synchronous
    // loop cannot be timed out from its own thread, so the built condenser runs in a worker
    // that is given a deadline two hundred times what it needs.
    const unpriced = '<zone zone_id="1" capacity="5" name="A" numbered="true"/>'.repeat(200_000);
    const xml = wrap(`${unpriced}<zone price="1.00"/><zone price="2.00"/><zone price="3.00"/>`);
    const condensed = await condenseInWorker(xml, 10_000);
    expect(condensed).toBe(wrap(`${unpriced}<zone price="1.00"/><zone price="3.00"/>`));
    expect(read(condensed)).toEqual(read(xml));
  });
});
