import type { FixedRate, Throughput } from './load.js';

/** One /search scenario: the API and the raw ceiling, same bytes, same run. */
export interface SearchResult {
  scenario: string;
  query: string;
  events: number;
  bodyBytes: number;
  api: Throughput;
  raw: Throughput;
  ratio: number;
}

export interface IngestResult {
  feed: string;
  threads: number;
  bytes: number;
  events: number;
  ms: number;
  mbPerSecond: number;
  eventsPerSecond: number;
  peakRssMb: number;
  outcome: string;
}

/** What `--once` prints, read back. */
export interface IngestSummary {
  outcome: string;
  mb: number;
  events: number;
  ms: number;
  rss: number;
}

/** Everything one `make bench` run measured: docs/benchmarks.json. */
export interface Results {
  startedAt: string;
  machine: { cpu: string; cores: number; memoryGb: number; freeMemoryGb: number; kernel: string };
  node: string;
  packages: Record<string, string>;
  loadGenerator: string;
  settings: { seconds: number; fixedSeconds: number; events: number; apiWorkers: number };
  commands: string[];
  search: SearchResult[];
  fixedRate: Array<FixedRate & { during: string }>;
  ingestion: IngestResult[];
  unchanged: { notModified: IngestSummary; sameBytes: IngestSummary };
}
