import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, getJson, type RunningProcess, startApp, waitUntil } from '@tessera/testkit';

/** What a node's answers say about its content: the whole `/search` body and the digest. */
export interface Content {
  body: string;
  digest: string | null;
}

/**
 * The truth a cluster is held to: one single node (no NATS) applying the same feeds in order,
 * each by an `ingestor --once` against the same partner, with an API to read it as a client
 * would. What it serves is what every cluster node must serve, byte for byte.
 */
export class ReferenceNode {
  readonly dataDir = mkdtempSync(join(tmpdir(), 'tessera-reference.'));
  private api: RunningProcess | undefined;
  private port = 0;

  async start(): Promise<void> {
    this.port = await freePort();
    this.api = startApp('api', {
      DATA_DIR: this.dataDir,
      PORT: String(this.port),
      HOST: '127.0.0.1',
      API_WORKERS: '1',
    });
    await waitUntil(() => getJson(`http://127.0.0.1:${this.port}/health`), {
      what: 'the reference API',
    });
  }

  /**
   * One poll of `feedUrl` (or of every feed of a FEEDS setting); resolves with whether every
   * feed applied a whole document.
   */
  async ingest(feedUrl: string | { FEEDS: string }): Promise<{ ok: boolean; summary: string }> {
    const run = startApp(
      'ingestor',
      {
        DATA_DIR: this.dataDir,
        ...(typeof feedUrl === 'string' ? { PROVIDER_URL: feedUrl } : feedUrl),
        LOG_LEVEL: 'silent',
        INGEST_NICE: '0',
        PARSE_THREADS: '1',
      },
      ['--once'],
    );
    const code = await run.exited;
    return { ok: code === 0, summary: run.output().trim() };
  }

  async content(): Promise<Content> {
    return contentOf(this.port);
  }

  async stop(): Promise<void> {
    await this.api?.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** A node's whole `/search` (no parameters) and its `/ready` state digest. */
export async function contentOf(apiPort: number): Promise<Content> {
  const res = await fetch(`http://127.0.0.1:${apiPort}/search`);
  const body = await res.text();
  const ready = await getJson<{ data: { state_digest?: string } | null }>(
    `http://127.0.0.1:${apiPort}/ready`,
  );
  return {
    body: res.status === 200 ? body : `status ${res.status}`,
    digest: ready?.data?.state_digest ?? null,
  };
}

/** How two whole answers differ, in a line: what a failed comparison prints. */
export function describeDifference(actual: string, expected: string): string {
  const ids = (body: string): Map<string, string> => {
    try {
      const events = (JSON.parse(body) as { data: { events: Array<{ id: string }> } }).data.events;
      return new Map(events.map((e) => [e.id, JSON.stringify(e)]));
    } catch {
      return new Map();
    }
  };
  const a = ids(actual);
  const e = ids(expected);
  const missing = [...e.keys()].filter((id) => !a.has(id)).length;
  const extra = [...a.keys()].filter((id) => !e.has(id)).length;
  const stale = [...e.entries()].filter(([id, v]) => a.has(id) && a.get(id) !== v).length;
  return `${a.size} events where the reference has ${e.size}: ${missing} missing, ${extra} extra, ${stale} with other values`;
}
