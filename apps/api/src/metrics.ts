import type { StoreView } from '@tessera/store';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { configuredFeeds, readyBody } from './readiness.js';
import {
  type ReplicationSource,
  type ReplicationView,
  viewReplication,
} from './replication-view.js';
import { registerRequestMetrics } from './request-metrics.js';

/**
 * `read`, called at most once per scrape however many gauges use it: they then describe one
 * moment, and a scrape reads the store once. prom-client collects every gauge of a scrape in
 * one turn of the event loop (microtasks only), so the value is dropped at the next turn.
 */
function readOncePerScrape<T>(read: () => T): () => T {
  let held: { value: T } | undefined;
  return () => {
    if (held === undefined) {
      held = { value: read() };
      setImmediate(() => {
        held = undefined;
      });
    }
    return held.value;
  };
}

/** The API's Prometheus metrics, in a registry of its own (no global state). */
export function createMetrics(
  store: StoreView,
  options: {
    maxLagMs: number;
    staleAfterMs: number;
    now?: () => number;
    /** Cluster mode's status (see replication-view.ts); none in single mode. */
    replication?: ReplicationSource;
  },
) {
  const now = options.now ?? Date.now;
  const registry = new Registry();
  const feeds = readOncePerScrape(() => store.feeds());
  collectDefaultMetrics({ register: registry });
  const requests = registerRequestMetrics(registry);
  registerStoreMetrics(registry, store, feeds);
  // Cluster mode, read from the ingestor's replication status (single mode: role "single").
  const status = readOncePerScrape(options.replication ?? (() => null));
  const replication = readOncePerScrape(() => viewReplication(status(), now(), options.maxLagMs));
  // /ready's rule over the same reads as the other gauges of the scrape.
  const scraped: StoreView = Object.assign(Object.create(store) as StoreView, { feeds });
  registerClusterMetrics(registry, replication, () => configuredFeeds(scraped));
  // What alerts page on (deploy/prometheus/alerts.yaml), as numbers rather than read from
  // /ready's status code, which a scrape does not see.
  new Gauge({
    name: 'tessera_ready',
    help: 'Whether this node answers /ready with 200 (1) or not (0)',
    registers: [registry],
    aggregator: 'min',
    collect() {
      this.set(isReady(scraped, status, now(), options) ? 1 : 0);
    },
  });
  const scanned = new Counter({
    name: 'tessera_search_events_scanned_total',
    help: 'Events read from the store to answer uncached /search requests',
    registers: [registry],
  });
  const subscribers = new Gauge({
    name: 'tessera_change_subscribers',
    help: 'Change streams and waiting long-polls of /changes being served',
    registers: [registry],
    aggregator: 'sum',
  });
  const cutOffs = new Counter({
    name: 'tessera_change_subscribers_cut_off_total',
    help: 'Change streams cut off because their client left too much unread (it resumes by token)',
    registers: [registry],
  });
  return {
    registry,
    scanned(events: number): void {
      if (events > 0) scanned.inc(events);
    },
    changeFeed: {
      subscribers: (delta: number) => subscribers.inc(delta),
      cutOff: () => cutOffs.inc(),
    },
    observe: requests.observe,
  };
}

/** What the store holds, per feed where a feed is a label. */
function registerStoreMetrics(
  registry: Registry,
  store: StoreView,
  feeds: () => ReturnType<StoreView['feeds']>,
): void {
  new Gauge({
    name: 'tessera_events_stored',
    help: 'Events in the store',
    registers: [registry],
    aggregator: 'max',
    collect() {
      this.set(store.count());
    },
  });
  // 0 while the ingestor rebuilds the blocks at its start (a store written by an older Tessera)
  // or after such a rebuild failed: answers are the same, uncached windows several times slower.
  new Gauge({
    name: 'tessera_store_blocks_current',
    help: 'Whether uncached windows are read a block at a time (1) or event by event (0)',
    registers: [registry],
    aggregator: 'min',
    collect() {
      this.set(store.blocksCurrent() ? 1 : 0);
    },
  });
  // One series per feed the store knows (configured or not): a feed is a label, not a metric.
  new Gauge({
    name: 'tessera_last_ingest_success_timestamp_seconds',
    help: 'When a feed last completed a poll successfully (0: never)',
    labelNames: ['feed'] as const,
    registers: [registry],
    aggregator: 'max',
    collect() {
      this.reset();
      for (const f of feeds()) this.set({ feed: f.id }, (f.state.lastSuccessAt ?? 0) / 1000);
    },
  });
  new Gauge({
    name: 'tessera_ingest_consecutive_failures',
    help: "A feed's failed polls since its last successful one",
    labelNames: ['feed'] as const,
    registers: [registry],
    aggregator: 'max',
    collect() {
      this.reset();
      for (const f of feeds()) this.set({ feed: f.id }, f.state.consecutiveFailures);
    },
  });
  new Gauge({
    name: 'tessera_feed_events',
    help: 'Events a feed brought into the store',
    labelNames: ['feed'] as const,
    registers: [registry],
    aggregator: 'max',
    collect() {
      this.reset();
      for (const f of feeds()) this.set({ feed: f.id }, f.events);
    },
  });
  new Gauge({
    name: 'tessera_store_version',
    help: 'Store version (increases whenever an event changes)',
    registers: [registry],
    aggregator: 'max',
    collect() {
      this.set(store.head().version);
    },
  });
  // A digest is no number: it is the label of a gauge that is always 1 (an "info" metric).
  new Gauge({
    name: 'tessera_state_digest_info',
    help: 'The state digest of the stored events (equal on nodes holding the same content)',
    labelNames: ['digest'] as const,
    registers: [registry],
    aggregator: 'first',
    collect() {
      this.reset();
      this.set({ digest: store.digest() ?? 'none' }, 1);
    },
  });
}

/** Cluster mode's view of this node (single mode: role "single" and zeros). */
function registerClusterMetrics(
  registry: Registry,
  replication: () => ReplicationView,
  configured: () => Array<{ id: string }>,
): void {
  new Gauge({
    name: 'tessera_replication_role',
    help: "This node's role: 1 for the current one of single, leader, follower",
    labelNames: ['role'] as const,
    registers: [registry],
    aggregator: 'max',
    collect() {
      const { role } = replication();
      for (const r of ['single', 'leader', 'follower'] as const)
        this.set({ role: r }, r === role ? 1 : 0);
    },
  });
  new Gauge({
    name: 'tessera_replication_connected',
    help: "Cluster mode: 1 while this node's ingestor reaches NATS",
    registers: [registry],
    aggregator: 'max',
    collect() {
      this.set(replication().replication === 'connected' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'tessera_replication_applied_sequence',
    help: "Cluster mode: the last stream sequence applied to this node's store",
    registers: [registry],
    aggregator: 'max',
    collect() {
      this.set(replication().appliedSequence ?? 0);
    },
  });
  new Gauge({
    name: 'tessera_replication_latest_sequence',
    help: 'Cluster mode: the last stream sequence known to exist',
    registers: [registry],
    aggregator: 'max',
    collect() {
      this.set(replication().latestSequence ?? 0);
    },
  });
  new Gauge({
    name: 'tessera_replication_lag_seconds',
    help: 'Cluster mode: how far this node is behind the cluster',
    registers: [registry],
    aggregator: 'max',
    collect() {
      this.set(replication().lagMs / 1000);
    },
  });
  new Gauge({
    name: 'tessera_cluster_config_differing_nodes',
    help: "Cluster mode: live nodes whose feed configuration (FEEDS) is not this node's",
    registers: [registry],
    aggregator: 'max',
    collect() {
      this.set(replication().configDiffers.length);
    },
  });
  new Gauge({
    name: 'tessera_state_diverged',
    help: "Cluster mode: 1 while this node's content is known to differ from the cluster's (it re-syncs)",
    registers: [registry],
    aggregator: 'max',
    collect() {
      this.set(replication().diverged === null ? 0 : 1);
    },
  });
  // Cluster mode only: one series per configured feed on every node, so that a feed no node
  // leads is a sum of zeros rather than a missing series.
  new Gauge({
    name: 'tessera_feed_leader',
    help: 'Cluster mode: 1 for each configured feed this node leads (polls) now, else 0',
    labelNames: ['feed'] as const,
    registers: [registry],
    aggregator: 'max',
    collect() {
      this.reset();
      const { role, leading } = replication();
      if (role === 'single') return;
      for (const f of configured()) this.set({ feed: f.id }, leading.includes(f.id) ? 1 : 0);
    },
  });
}

export type Metrics = ReturnType<typeof createMetrics>;

function isReady(
  store: StoreView,
  replication: ReplicationSource,
  at: number,
  limits: { maxLagMs: number; staleAfterMs: number },
): boolean {
  try {
    readyBody(store, replication, at, limits);
    return true;
  } catch {
    return false;
  }
}
