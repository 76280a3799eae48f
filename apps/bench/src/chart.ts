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
