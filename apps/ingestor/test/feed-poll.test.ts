import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { xxh3 } from '@node-rs/xxhash';
import { NORMALIZATION_VERSION } from '@tessera/core';
import { fixturePath } from '@tessera/fixtures';
import { SOUND_BASE_ID } from '@tessera/simulator';
import { lastTransactionId } from '@tessera/store/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness, idOf } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('pollFeed over the partner fixtures', () => {
  it('skips the write for a 304 and for a body identical to the last one', async () => {
    h = await createHarness({ source: { kind: 'fixtures', vocabulary: 'plan', response: 3 } });
    expect((await h.poll()).outcome).toBe('applied');
    const version = h.store.head().version;
    const lastTxn = lastTransactionId(h.store);
    const notModified = await h.poll();
    expect(notModified.outcome).toBe('not_modified');
    // Only the small state record (freshness) is committed: no event write, same version.
    expect(lastTransactionId(h.store)).toBe(lastTxn + 1);
    expect(h.store.head().version).toBe(version);

    // The same bytes without validators (a provider that ignores If-None-Match).
    h.store.recordPoll('feverup', {
      ok: true,
      at: 1,
      validators: { ...h.store.state('feverup').validators, urlDigest: null },
    });
    const before = lastTransactionId(h.store);
    const unchanged = await h.poll();
    expect(unchanged.outcome).toBe('unchanged');
    expect(lastTransactionId(h.store)).toBe(before + 1);
    expect(h.store.head().version).toBe(version);
  });

  it('keeps no secret of the feed URL in the store, and its validators still make the next poll conditional', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-url-secret-'));
    try {
      h = await createHarness({
        source: { kind: 'fixtures', vocabulary: 'plan', response: 3 },
        query: 'token=s3cret-partner-token',
        dir,
      });
      expect((await h.poll()).outcome).toBe('applied');
      expect((await h.poll()).outcome).toBe('not_modified');
      await h.close();
      h = undefined;
      // The store's own bytes, not what its API returns: nothing of the token anywhere.
      for (const file of readdirSync(dir, { recursive: true, withFileTypes: true })) {
        if (!file.isFile()) continue;
        const bytes = readFileSync(join(file.parentPath, file.name));
        expect(bytes.includes('s3cret'), join(file.parentPath, file.name)).toBe(false);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('digests what shapes the stored records, the normalization version included', async () => {
    // A new NORMALIZATION_VERSION makes the same bytes a changed feed, so that an upgrade that
    // corrects normalization lands without waiting for the partner to change the feed.
    h = await createHarness({
      source: { kind: 'fixtures', vocabulary: 'plan', response: 2 },
      compress: false,
    });
    await h.poll();
    // XXH3-128 from an implementation of its own (Rust, through napi), over the whole input at once.
    const whole = Buffer.concat([
      Buffer.from(`feverup\u0000UTC\u0000${NORMALIZATION_VERSION}\u0000`),
      readFileSync(fixturePath('plan', 2)),
    ]);
    const expected = xxh3.xxh128(whole).toString(16).padStart(32, '0');
    expect(h.store.state('feverup').validators.hash).toBe(expected);
  });

  it('accepts gzip and identity bodies alike', async () => {
    h = await createHarness({
      source: { kind: 'fixtures', vocabulary: 'event', response: 1 },
      compress: true,
    });
    expect((await h.poll()).counts?.inserted).toBe(3);
  });
});

describe('pollFeed with generated feeds', () => {
  it("accounts for the main thread's time once, phase by phase, and for the workers' parsing", async () => {
    h = await createHarness({
      source: { kind: 'generated', bases: 2_000, eventsPerBase: 3, zonesPerEvent: 20, seed: 5 },
    });
    const report = await h.poll();
    expect(report.outcome).toBe('applied');
    const { fetchMs, splitMs, waitMs, storeMs, decodeMs, condenseMs, saxMs, readMs } =
      report.phases;
    for (const ms of [fetchMs, splitMs, waitMs, storeMs]) expect(ms).toBeGreaterThanOrEqual(0);
    // The main thread's phases are disjoint slices of the poll (rounding aside).
    expect(fetchMs + splitMs + waitMs + storeMs).toBeLessThanOrEqual(report.durationMs + 1);
    expect(storeMs).toBeGreaterThan(0);
    expect(decodeMs + condenseMs + saxMs + readMs).toBeGreaterThan(0);
  });

  it('rejects flawed records one by one and keeps the rest', async () => {
    h = await createHarness({
      source: {
        kind: 'generated',
        bases: 200,
        eventsPerBase: 2,
        zonesPerEvent: 5,
        seed: 3,
        onlineRatio: 1,
        flawRatio: 0.2,
      },
    });
    const report = await h.poll();
    expect(report.outcome).toBe('applied');
    const rejected = Object.values(report.rejected).reduce((a, b) => a + (b ?? 0), 0);
    expect(rejected).toBeGreaterThan(20);
    expect(Object.keys(report.rejected).sort()).toEqual(
      ['end_before_start', 'invalid_datetime', 'invalid_price', 'missing_attribute'].sort(),
    );
    expect(report.events + rejected).toBe(400);
    expect(h.store.count()).toBe(report.events);
  });

  it('moves an event whose start changed and updates changed values', async () => {
    const source = {
      kind: 'generated' as const,
      vocabulary: 'plan' as const,
      bases: 50,
      eventsPerBase: 2,
      zonesPerEvent: 3,
      seed: 5,
      onlineRatio: 1,
    };
    h = await createHarness({ source });
    await h.poll();
    const count = h.store.count();
    h.sim.setSource({ ...source, shiftDays: 10 });
    const report = await h.poll();
    expect(report.counts?.moved).toBe(count);
    expect(h.store.count()).toBe(count);
  });
});

describe('pollFeed record faults', () => {
  it.each(['invalid_dates', 'missing_attributes'] as const)(
    '%s rejects only the flawed records',
    async (kind) => {
      h = await createHarness({ plan: { steps: [{ kind }], afterwards: 'none' } });
      const report = await h.poll();
      expect(report.outcome).toBe('applied');
      expect(report.counts?.inserted).toBe(1);
      expect(h.summaries().map((s) => s.id)).toEqual([idOf(SOUND_BASE_ID, '1')]);
      expect(Object.keys(report.rejected)).toEqual([
        kind === 'invalid_dates' ? 'invalid_datetime' : 'missing_attribute',
      ]);
      expect(Object.values(report.rejected)[0]).toBe(3);
    },
  );

  it('a huge attribute rejects its record only; memory stays bounded by MAX_ELEMENT_BYTES', async () => {
    h = await createHarness({
      plan: { steps: [{ kind: 'huge_attribute', bytes: 1024 * 1024 }], afterwards: 'none' },
    });
    const report = await h.poll();
    expect(report.outcome).toBe('applied');
    expect(h.summaries().map((s) => s.id)).toEqual([idOf(SOUND_BASE_ID, '1')]);
    expect(report.rejected).toEqual({ attribute_too_long: 1 });
  });
});
