import type { Registry } from 'prom-client';

const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1];

/** A route's requests: their latency histogram, and their count by status. */
interface RouteRequests {
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  counts: Float64Array;
  sum: number;
  count: number;
  /** Requests by status. */
  statuses: Map<number, number>;
}

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/**
 * Requests by route and status, and their latency by route, counted in plain numbers on the hot
 * path and handed to Prometheus at scrape time as a counter and a histogram. prom-client's own
 * `observe` validates and hashes its labels on every call, which on /search cost more than the
 * rest of our per-request work together; the exposition is the same.
 */
export function registerRequestMetrics(registry: Registry) {
  // One lookup by route (the router's own strings, whose hashes V8 keeps) and one by status: a
  // key made per request would be a new string hashed every time.
  const routes = new Map<string, RouteRequests>();

  const total = {
    name: 'http_requests_total',
    help: 'HTTP requests by route and status',
    type: 'counter',
    aggregator: 'sum',
  } as const;
  const duration = {
    name: 'http_request_duration_seconds',
    help: 'Time from request to response, by route',
    type: 'histogram',
    aggregator: 'sum',
  } as const;

  registry.registerMetric({
    ...total,
    get: async () => ({
      ...total,
      values: [...routes].flatMap(([route, l]) =>
        [...l.statuses].map(
          ([status, count]): MetricValue => ({ value: count, labels: { route, status } }),
        ),
      ),
    }),
    reset: () => {
      for (const l of routes.values()) l.statuses.clear();
    },
  } as never);

  registry.registerMetric({
    ...duration,
    get: async () => {
      const values: MetricValue[] = [];
      for (const [route, l] of routes) {
        let cumulative = 0;
        BUCKETS.forEach((le, i) => {
          cumulative += l.counts[i]!;
          values.push({
            value: cumulative,
            labels: { route, le },
            metricName: `${duration.name}_bucket`,
          });
        });
        values.push(
          { value: l.count, labels: { route, le: '+Inf' }, metricName: `${duration.name}_bucket` },
          { value: l.sum, labels: { route }, metricName: `${duration.name}_sum` },
          { value: l.count, labels: { route }, metricName: `${duration.name}_count` },
        );
      }
      return { ...duration, values };
    },
    reset: () => {
      for (const l of routes.values()) {
        l.counts.fill(0);
        l.sum = 0;
        l.count = 0;
      }
    },
  } as never);

  return {
    observe(route: string, status: number, seconds: number): void {
      let l = routes.get(route);
      if (l === undefined) {
        l = { counts: new Float64Array(BUCKETS.length + 1), sum: 0, count: 0, statuses: new Map() };
        routes.set(route, l);
      }
      l.statuses.set(status, (l.statuses.get(status) ?? 0) + 1);
      let i = 0;
      while (i < BUCKETS.length && seconds > BUCKETS[i]!) i++;
      l.counts[i]!++;
      l.sum += seconds;
      l.count++;
    },
  };
}
