import type { StoreView } from '@tessera/store';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** The API's Prometheus metrics, in a registry of its own (no global state). */
export function createMetrics(store: StoreView) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['route', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from request to response, by route',
    labelNames: ['route'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
    registers: [registry],
  });
  new Gauge({
    name: 'tessera_events_stored',
    help: 'Events in the store',
    registers: [registry],
    aggregator: 'max',
    collect() {
      this.set(store.count());
    },
  });
  new Gauge({
    name: 'tessera_last_ingest_success_timestamp_seconds',
    help: 'When the ingestor last completed a poll successfully (0: never)',
    registers: [registry],
    aggregator: 'max',
    collect() {
      this.set((store.state().lastSuccessAt ?? 0) / 1000);
    },
  });
  new Gauge({
    name: 'tessera_ingest_consecutive_failures',
    help: 'Failed polls since the last successful one',
    registers: [registry],
    aggregator: 'max',
    collect() {
      this.set(store.state().consecutiveFailures);
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
  const scanned = new Counter({
    name: 'tessera_search_events_scanned_total',
    help: 'Events read from the store to answer uncached /search requests',
    registers: [registry],
  });
  // Label children cached per (route, status): looking them up by label object hashes the labels.
  const requestChildren = new Map<string, ReturnType<typeof requests.labels>>();
  const latencyChildren = new Map<string, ReturnType<typeof latency.labels>>();
  return {
    registry,
    scanned(events: number): void {
      if (events > 0) scanned.inc(events);
    },
    observe(route: string, status: number, seconds: number): void {
      const key = `${route} ${status}`;
      let counter = requestChildren.get(key);
      if (counter === undefined) {
        counter = requests.labels(route, String(status));
        requestChildren.set(key, counter);
      }
      counter.inc();
      let histogram = latencyChildren.get(route);
      if (histogram === undefined) {
        histogram = latency.labels(route);
        latencyChildren.set(route, histogram);
      }
      histogram.observe(seconds);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
