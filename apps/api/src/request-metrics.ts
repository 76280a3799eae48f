import type { Registry } from 'prom-client';

const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1];

interface RouteLatency {
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  counts: Float64Array;
  sum: number;
  count: number;
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
  const requests = new Map<string, { route: string; status: number; count: number }>();
  const latency = new Map<string, RouteLatency>();

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
      values: [...requests.values()].map(
        (r): MetricValue => ({ value: r.count, labels: { route: r.route, status: r.status } }),
      ),
    }),
    reset: () => requests.clear(),
  } as never);

  registry.registerMetric({
    ...duration,
    get: async () => {
      const values: MetricValue[] = [];
      for (const [route, l] of latency) {
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
    reset: () => latency.clear(),
  } as never);

  return {
    observe(route: string, status: number, seconds: number): void {
      const key = `${route} ${status}`;
      let counted = requests.get(key);
      if (counted === undefined) {
        counted = { route, status, count: 0 };
        requests.set(key, counted);
      }
      counted.count++;
      let l = latency.get(route);
      if (l === undefined) {
        l = { counts: new Float64Array(BUCKETS.length + 1), sum: 0, count: 0 };
        latency.set(route, l);
      }
      let i = 0;
      while (i < BUCKETS.length && seconds > BUCKETS[i]!) i++;
      l.counts[i]!++;
      l.sum += seconds;
      l.count++;
    },
  };
}
