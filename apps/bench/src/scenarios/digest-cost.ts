import { DigestSum, openStoreWriter, recordDigest } from '@tessera/store';
import { seedRecords } from '@tessera/testkit';
import type { BenchContext } from '../bench-context.js';

export interface DigestCostResult {
  events: number;
  /** Bytes of the stored values (summary JSON), what the apply writes. */
  bytes: number;
  /** One applyFeed of every record into an empty store: the digest kept as it writes. */
  applyMs: number;
  /**
   * The record digests alone over the same records: the unchanged check needed one per record
   * already (it covers the id and start as well as the value).
   */
  recordDigestMs: number;
  /** Folding them into the state digest alone: what the state digest adds to an apply. */
  foldMs: number;
  /** The boot-time check of a store of this size (a scan recomputing the digest). */
  verifyMs: number;
}

/**
 * What the state digest costs an ingest. The store keeps it inside the apply transaction; its
 * parts are timed alone over the same records, so the apply's rate with and without it is told
 * apart in one run, not compared across runs of different code.
 */
export async function runDigestCost(ctx: BenchContext, events: number): Promise<DigestCostResult> {
  ctx.log(`digest cost over ${events} events`);
  const records = [...seedRecords(events)];
  const bytes = records.reduce((sum, r) => sum + Buffer.byteLength(r.summary), 0);
  const store = openStoreWriter({ path: ctx.dir('digest-cost') });
  try {
    let started = performance.now();
    store.applyFeed('test', records, {
      at: Date.now(),
      validators: { urlDigest: null, etag: null, lastModified: null, hash: 'bench' },
    });
    const applyMs = performance.now() - started;
    started = performance.now();
    const digests = records.map(recordDigest);
    const recordDigestMs = performance.now() - started;
    started = performance.now();
    const sum = new DigestSum();
    for (const digest of digests) sum.toggle(digest);
    const foldMs = performance.now() - started;
    if (sum.value() !== store.digest()) throw new Error('the digest fold disagrees with the store');
    started = performance.now();
    store.verifyDigest();
    const verifyMs = performance.now() - started;
    return { events, bytes, applyMs, recordDigestMs, foldMs, verifyMs };
  } finally {
    await store.close();
  }
}
