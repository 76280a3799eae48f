import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { conformanceDocument, createRandom } from '@tessera/simulator';
import { openStoreWriter } from '@tessera/store';
import { readWholeDocument } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollFeed } from '../src/feed-poll.js';
import { storeSink } from '../src/feed-sink.js';
import { createHarness, type Harness } from './harness.js';

/**
 * XML conformance: the simulator's seeded corpus (see conformanceDocument) run through the whole
 * ingest path (HTTP, splitter, condenser, workers, store) and through plain sax over the whole
 * document. Both must find the same records and the same rejections, or both refuse the
 * document. `XML_CASES` sets how many.
 */
const CASES = Number(process.env.XML_CASES ?? 300);
const FIRST_SEED = Number(process.env.XML_SEED ?? 1);

// One simulator and worker pool for every case; each case gets a store of its own.
let h: Harness;
beforeAll(async () => {
  h = await createHarness({ fetcher: { maxFeedBytes: 8 * 1024 * 1024 } });
});
afterAll(() => h.close());

describe('XML conformance: the ingest path reads what plain sax reads', () => {
  it(`${CASES} seeded documents from seed ${FIRST_SEED}: the same records and rejections, or both refuse`, async () => {
    for (let seed = FIRST_SEED; seed < FIRST_SEED + CASES; seed++) {
      const { vocabulary, body } = conformanceDocument(seed);
      const truth = readWholeDocument(body, { provider: 'feverup', timeZone: 'UTC' });
      h.sim.setSource({ kind: 'document', body, vocabulary: vocabulary.name as 'plan' | 'event' });
      const dir = mkdtempSync(join(tmpdir(), 'tessera-xml-'));
      const store = openStoreWriter({ path: dir });
      try {
        const report = await pollFeed(
          {
            ...h.deps,
            store: storeSink(store, 'feverup'),
            // Small chunks and runs, so that documents are cut in many places.
            chunkBytes: 1024 + Math.floor(createRandom(seed)() * 2048),
            runBytes: 64 + Math.floor(createRandom(seed + 1)() * 512),
          },
          new AbortController().signal,
        );
        const where = `seed ${seed} (XML_SEED=${seed} XML_CASES=1 reproduces it):\n${body}`;
        if (truth === 'refused') {
          expect(report.error?.code, where).toBe('feed_malformed');
          continue;
        }
        expect(report.error, where).toBeNull();
        expect(
          [...store.records()].sort((a, b) => a.id.localeCompare(b.id)),
          where,
        ).toEqual(truth.records);
        expect(report.rejected, where).toEqual(truth.rejected);
      } finally {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }, 300_000);
});
