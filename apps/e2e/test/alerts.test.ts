import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freePort,
  getJson,
  REPO_ROOT,
  type RunningProcess,
  startProcess,
  waitUntil,
} from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { System } from './system.js';

/**
 * deploy/prometheus against the truth: promtool's own check and unit tests, a contract over every
 * rule (tested, documented, reading series that exist), and a real Prometheus scraping a running
 * Tessera whose partner fails and then recovers.
 */
const PROMETHEUS_DIR = join(REPO_ROOT, 'deploy/prometheus');
const RULES_FILE = join(PROMETHEUS_DIR, 'alerts.yaml');
const DASHBOARD_FILE = join(REPO_ROOT, 'deploy/grafana/tessera.json');

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
  annotations: Record<string, string>;
}
const rules: Rule[] = parse(readFileSync(RULES_FILE, 'utf8')).groups.flatMap(
  (g: { rules: Rule[] }) => g.rules,
);

/** Series read from elsewhere than Tessera's /metrics. */
const EXTERNAL_SERIES = new Set(['kube_pod_container_status_restarts_total']);

/** The metric names an expression (or the dashboard's JSON) reads, by Tessera's and prom-client's prefixes. */
function seriesOf(expr: string): string[] {
  const names = expr.match(/\b(?:tessera|http|kube|process|nodejs)_[a-z_]+\b/g) ?? [];
  // A histogram is read through its _bucket, _sum and _count series.
  return [...new Set(names.map((n) => n.replace(/_(bucket|sum|count)$/, '')))];
}

const promtool = (...args: string[]): string =>
  execFileSync('promtool', args, { cwd: PROMETHEUS_DIR, encoding: 'utf8' });

describe('the alerting rules', () => {
  it('pass promtool check rules and every unit test of alerts.test.yaml', () => {
    expect(promtool('check', 'rules', 'alerts.yaml')).toContain(`SUCCESS: ${rules.length} rules`);
    expect(promtool('test', 'rules', 'alerts.test.yaml')).toContain('SUCCESS');
  });

  it('each have a firing unit test, a severity, a summary and a runbook paragraph', () => {
    const tests = parse(readFileSync(join(PROMETHEUS_DIR, 'alerts.test.yaml'), 'utf8')).tests;
    const fired = new Set<string>(
      tests.flatMap(
        (t: { alert_rule_test: Array<{ alertname: string; exp_alerts?: unknown[] }> }) =>
          t.alert_rule_test.filter((a) => (a.exp_alerts?.length ?? 0) > 0).map((a) => a.alertname),
      ),
    );
    const runbooks = readFileSync(join(REPO_ROOT, 'docs/alerts.md'), 'utf8');
    for (const rule of rules) {
      expect(fired.has(rule.alert), `${rule.alert} has a test where it fires`).toBe(true);
      expect(['page', 'warning']).toContain(rule.labels.severity);
      expect(rule.annotations.summary, rule.alert).toBeTruthy();
      expect(rule.annotations.runbook).toBe(`docs/alerts.md#${rule.alert.toLowerCase()}`);
      expect(runbooks, rule.alert).toContain(`\n## ${rule.alert}\n`);
    }
  });
});

describe('a real Prometheus scraping a running Tessera', () => {
  let system: System;
  let prometheus: RunningProcess | undefined;
  let promPort = 0;
  const promDir = mkdtempSync(join(tmpdir(), 'tessera-prometheus.'));

  beforeAll(async () => {
    system = new System();
    await system.startSim({ kind: 'fixtures', vocabulary: 'plan', response: 1 });
    system.startIngestor({ LOG_LEVEL: 'warn' });
    // A single node still describes the cluster's series (HELP and TYPE, no value): the
    // contract below reads their names from it.
    await system.startApi({ LOG_LEVEL: 'warn' });
    await waitUntil(async () => (await system.search()).length > 0, { what: 'a first apply' });
    promPort = await freePort();
    // The rules as they ship, with every `for` cut to nothing: a test cannot wait five minutes,
    // and what it checks is that the expressions read the series Tessera exposes.
    const file = parse(readFileSync(RULES_FILE, 'utf8'));
    for (const group of file.groups) for (const rule of group.rules) delete rule.for;
    writeFileSync(join(promDir, 'alerts.yaml'), stringify(file));
    writeFileSync(
      join(promDir, 'prometheus.yml'),
      stringify({
        global: { scrape_interval: '500ms', evaluation_interval: '500ms' },
        rule_files: ['alerts.yaml'],
        scrape_configs: [
          {
            job_name: 'tessera',
            static_configs: [{ targets: [`127.0.0.1:${system.apiPort}`] }],
          },
        ],
      }),
    );
    prometheus = startProcess('prometheus', [
      `--config.file=${join(promDir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(promDir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ]);
    await waitUntil(() => getJson(`http://127.0.0.1:${promPort}/-/ready`).then(() => true), {
      what: 'Prometheus',
    });
  }, 60_000);

  afterAll(async () => {
    await prometheus?.stop();
    await system?.stopAll();
    await system?.dispose();
    rmSync(promDir, { recursive: true, force: true });
  });

  const query = async (promql: string): Promise<Array<{ metric: Record<string, string> }>> => {
    const url = `http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(promql)}`;
    const body = (await getJson(url)) as {
      data: { result: Array<{ metric: Record<string, string> }> };
    };
    return body.data.result;
  };
  const firing = async (alert: string): Promise<Array<Record<string, string>>> => {
    const body = (await getJson(`http://127.0.0.1:${promPort}/api/v1/alerts`)) as {
      data: { alerts: Array<{ labels: Record<string, string>; state: string }> };
    };
    return body.data.alerts
      .filter((a) => a.labels.alertname === alert && a.state === 'firing')
      .map((a) => a.labels);
  };

  it('reads only series the API exposes, in the rules and the dashboard', async () => {
    const exposition = await (await fetch(`http://127.0.0.1:${system.apiPort}/metrics`)).text();
    const exposed = new Set([...exposition.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]));
    const dashboard = readFileSync(DASHBOARD_FILE, 'utf8');
    const read = [...rules.map((r) => r.expr), dashboard].flatMap(seriesOf);
    expect(read.length).toBeGreaterThan(10);
    for (const name of read) {
      if (!EXTERNAL_SERIES.has(name)) expect(exposed, name).toContain(name);
    }
    // Prometheus sees them too.
    await waitUntil(async () => (await query('tessera_ready == 1')).length === 1, {
      what: 'tessera_ready scraped',
    });
  });

  it('fires TesseraFeedFailing while the partner fails, and resolves it when the partner recovers', async () => {
    expect(await firing('TesseraFeedFailing')).toEqual([]);
    await system.control('plan', {
      steps: [{ kind: 'status', status: 503 }],
      afterwards: 'repeat_last',
    });
    const fired = await waitUntil(
      async () => {
        const alerts = await firing('TesseraFeedFailing');
        return alerts.length > 0 ? alerts : undefined;
      },
      { what: 'TesseraFeedFailing to fire', timeoutMs: 30_000 },
    );
    expect(fired).toEqual([
      expect.objectContaining({ alertname: 'TesseraFeedFailing', severity: 'warning' }),
    ]);
    expect(fired[0]?.feed).toBeTruthy();
    await system.control('plan', { steps: [], afterwards: 'none' });
    await waitUntil(async () => (await firing('TesseraFeedFailing')).length === 0, {
      what: 'TesseraFeedFailing to resolve',
      timeoutMs: 30_000,
    });
  }, 90_000);
});
