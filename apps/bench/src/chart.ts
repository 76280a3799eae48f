import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export interface LatencyPoint {
  run: string;
  percentile: string;
  ms: number;
}

/** Latency percentiles per fixed-rate run, as an SVG bar chart (vega-lite, rendered headless). */
export async function latencyChart(points: LatencyPoint[]): Promise<string> {
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'GET /search latency at fixed request rates (100k events, one-week window)',
    data: { values: points },
    mark: 'bar',
    width: 140,
    height: 260,
    encoding: {
      column: { field: 'run', type: 'nominal', title: null, sort: null },
      x: {
        field: 'percentile',
        type: 'nominal',
        title: null,
        sort: ['p50', 'p90', 'p99', 'p99.9'],
      },
      y: { field: 'ms', type: 'quantitative', title: 'latency (ms)' },
      color: { field: 'percentile', type: 'nominal', sort: ['p50', 'p90', 'p99', 'p99.9'] },
    },
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}

export interface CostChartPoint {
  curve: 'answer' | 'store';
  /** Events in the answer (curve "answer") or in the store (curve "store"). */
  events: number;
  mode: 'cached' | 'uncached';
  requestsPerSecond: number;
}

/** Requests per second against answer size and store size, both axes logarithmic. */
export async function costChart(points: CostChartPoint[]): Promise<string> {
  const panel = (curve: CostChartPoint['curve'], title: string) => ({
    transform: [{ filter: { field: 'curve', equal: curve } }],
    mark: { type: 'line', point: true },
    width: 300,
    height: 220,
    encoding: {
      x: { field: 'events', type: 'quantitative', scale: { type: 'log' }, title },
      y: {
        field: 'requestsPerSecond',
        type: 'quantitative',
        scale: { type: 'log' },
        title: 'req/s, one process',
      },
      color: { field: 'mode', type: 'nominal', title: null },
    },
  });
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'GET /search as the answer and the store grow',
    data: { values: points },
    hconcat: [
      panel('answer', 'events in the answer (one store)'),
      panel('store', 'events in the store (the same window)'),
    ],
  } as TopLevelSpec;
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}
