import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { eventIdFor } from '@tessera/core';
import { PARTNER_EXAMPLES } from '@tessera/fixtures';
import { createProviderSim } from '@tessera/simulator';
import { startApp } from '@tessera/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const { tm, xs } = PARTNER_EXAMPLES;
const dir = mkdtempSync(join(tmpdir(), 'tessera-preview-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const feeds = (tmUrl = 'http://127.0.0.1:1/events') =>
  JSON.stringify([
    { id: 'tm', url: tmUrl, timezone: tm.timeZone, format: `@${tm.mappingPath}` },
    {
      id: 'xs',
      url: 'http://127.0.0.1:1/shows',
      timezone: xs.timeZone,
      format: `@${xs.mappingPath}`,
    },
  ]);

async function preview(args: string[], env: Record<string, string> = {}) {
  const dataDir = join(dir, 'never-created');
  const run = startApp('ingestor', { FEEDS: feeds(), DATA_DIR: dataDir, ...env }, [
    'preview',
    ...args,
  ]);
  const code = await run.exited;
  expect(existsSync(dataDir), 'preview writes no store').toBe(false);
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

const firstIds = (example: typeof tm) =>
  example.events.map((e) => eventIdFor(example.feed, e.baseId, e.eventId));

describe('ingestor preview <feed>', () => {
  it('reads a file through the feed mapping: first events, counts, and faults by field with an example', async () => {
    const { code, stdout } = await preview(['tm', '--file', tm.documentPath, '--json']);
    expect(code).toBe(0);
    const result = JSON.parse(stdout);
    expect(result.first.map((e: { id: string }) => e.id)).toEqual(firstIds(tm));
    expect(result.report.events).toBe(tm.events.length);
    expect(result.report.offline).toBe(tm.offline);
    expect(result.report.faults).toEqual({
      starts_at: {
        count: 1,
        example: {
          code: 'invalid_datetime',
          message: 'starts_at: invalid datetime "tomorrow"',
          baseId: 'NY',
          eventId: 'vv4',
        },
      },
    });
  });

  it('prints a readable account, and reads a gzipped file', async () => {
    const gz = join(dir, 'xs.xml.gz');
    writeFileSync(gz, gzipSync(xs.document));
    const { code, stdout } = await preview(['xs', '--file', gz, '--limit', '1']);
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /^feed xs \(xml mapping\): \d+ bytes, 4 records read: 2 events, 1 not on sale, 1 rejected/,
    );
    expect(stdout).toContain('first 1 events:');
    expect(stdout).toContain('"title":"Hamlet & co"');
    expect(stdout).toMatch(/ends_at +1 +e\.g\. end_before_start: .*\(base S2, event P3\)/);
  });

  it('fetches the feed from its partner when no file is given', async () => {
    const sim = createProviderSim({
      source: { kind: 'document', body: tm.document, contentType: tm.contentType },
    });
    const url = await sim.listen();
    try {
      const { code, stdout } = await preview(['tm', '--json'], { FEEDS: feeds(url) });
      expect(code).toBe(0);
      expect(JSON.parse(stdout).first.map((e: { id: string }) => e.id)).toEqual(firstIds(tm));
    } finally {
      await sim.close();
    }
  });

  it('a document its mapping cannot read exits 1 and says why; an unknown feed is refused', async () => {
    const wrong = await preview(['xs', '--file', tm.documentPath]);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toContain('the document cannot be read: feed_malformed');
    const unknown = await preview(['nope']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('no such feed in FEEDS (tm, xs)');
  });
});
