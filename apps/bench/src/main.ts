import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { SettingsError } from '@tessera/core';
import { runMain } from '@tessera/runtime';
import { openStoreWriter } from '@tessera/store';
import { seedStore, weekWindow } from '@tessera/testkit';
import { type BaselineTree, buildBaselineTree } from './baseline-tree.js';
import { type BenchContext, createBenchContext } from './bench-context.js';
import { type BenchConfig, loadConfig } from './config.js';
import { fixedRateGeneratorName } from './fixed-rate-load.js';
import { loadGeneratorName } from './load.js';
import { packageVersions } from './package-versions.js';
import { writeReport } from './report-files.js';
import { type Results, SCENARIOS, type ScenarioName } from './results.js';
import { runChangeFeed } from './scenarios/change-feed.js';
import { runCluster } from './scenarios/cluster.js';
import { runClusterFeeds } from './scenarios/cluster-feeds.js';
import { runCostCurve } from './scenarios/cost-curve.js';
import { runDigestCost } from './scenarios/digest-cost.js';
import { runFeeds } from './scenarios/feeds.js';
import { runFixedRate } from './scenarios/fixed-rate.js';
import { runHostileClients } from './scenarios/hostile-clients.js';
import { runIngestion, runUnchangedPoll } from './scenarios/ingestion.js';
import { runPages } from './scenarios/pages.js';
import { runPartnerFormats } from './scenarios/partner-formats.js';
import { runRealServer } from './scenarios/real-server.js';
import { runSearchThroughput } from './scenarios/search-throughput.js';
import { runStartupUnderWrite } from './scenarios/startup-under-write.js';
import { runTrafficMix } from './scenarios/traffic-mix.js';

/**
 * `make bench`: every scenario measured side by side in one run on this machine, load generator
 * included, then written to docs/benchmarks.md, docs/benchmarks.json and the latency chart.
 */
runMain(
  'bench',
  async () => {
    const config = loadConfig(process.env);
    const ctx = await createBenchContext(config);
    const done = measure(ctx, config).finally(() => ctx.close());
    return { done: done.then(() => 0), stop: () => ctx.close() };
  },
  { isReadable: (error) => error instanceof SettingsError },
);

/**
 * The baseline commit's API and its own store of the same seeded events, or undefined when
 * BENCH_BASELINE is `none`. A baseline that cannot be built (a shallow clone, a ref not here)
 * stops the run: a report without the comparison it was asked for would read as one with it.
 */
async function prepareBaseline(
  ctx: BenchContext,
  config: BenchConfig,
): Promise<{ tree: BaselineTree; dataDir: string } | undefined> {
  if (config.BENCH_BASELINE === 'none') return undefined;
  const tree = await buildBaselineTree(
    config.BENCH_BASELINE,
    join(ctx.dir('baseline'), 'tree'),
    ctx.log,
  );
  try {
    const dataDir = ctx.dir('baseline-events');
    ctx.log(`seeding ${config.BENCH_EVENTS} events with the baseline's code`);
    await tree.seed(dataDir, config.BENCH_EVENTS);
    return { tree, dataDir };
  } catch (error) {
    await tree.remove();
    throw error;
  }
}

async function measure(ctx: BenchContext, config: BenchConfig): Promise<void> {
  const ran = SCENARIOS.filter((name) => config.BENCH_ONLY?.has(name) ?? true);
  const wants = (name: ScenarioName) => ran.includes(name);
  const results: Results = {
    startedAt: new Date().toISOString(),
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      memoryGb: Math.round(totalmem() / 1024 ** 3),
      kernel: execFileSync('uname', ['-sr']).toString().trim(),
    },
    node: process.version,
    packages: packageVersions(),
    loadGenerator: loadGeneratorName(),
    fixedRateGenerator: fixedRateGeneratorName(),
    settings: {
      seconds: config.BENCH_SECONDS,
      fixedSeconds: config.BENCH_FIXED_SECONDS,
      events: config.BENCH_EVENTS,
      largeMb: config.BENCH_LARGE_MB,
    },
    ran,
    commands: ctx.commands,
  };

  const week = weekWindow(config.BENCH_EVENTS);
  const weekQuery = `?starts_at=${week.startsAt}&ends_at=${week.endsAt}`;
  let bigDir: string | undefined;
  const storeScenarios: ScenarioName[] = ['search', 'cost-curve', 'fixed-rate', 'hostile', 'mix'];
  if (storeScenarios.some(wants)) {
    bigDir = ctx.dir('events');
    ctx.log(`seeding ${config.BENCH_EVENTS} events`);
    const writer = openStoreWriter({ path: bigDir });
    seedStore(writer, config.BENCH_EVENTS);
    await writer.close();
  }
  if (wants('search')) {
    const fixturesDir = ctx.dir('fixtures');
    await ctx.setSource({ kind: 'fixtures' });
    for (let i = 0; i < 3; i++) await ctx.ingestOnce({ DATA_DIR: fixturesDir });
    const baseline = await prepareBaseline(ctx, config);
    try {
      results.search = await runSearchThroughput(
        ctx,
        [
          {
            scenario: '(a) fixture data, seed window',
            dataDir: fixturesDir,
            query: '?starts_at=2021-02-01T00:00:00Z&ends_at=2022-07-03T00:00:00Z',
            connections: 50,
          },
          {
            scenario: `(b) ${config.BENCH_EVENTS} events, one-week window`,
            dataDir: bigDir!,
            baselineDataDir: baseline?.dataDir,
            query: weekQuery,
            connections: 50,
          },
          {
            scenario: `(c) ${config.BENCH_EVENTS} events, no parameters`,
            dataDir: bigDir!,
            baselineDataDir: baseline?.dataDir,
            query: '',
            connections: 4,
          },
        ],
        baseline?.tree,
      );
    } finally {
      await baseline?.tree.remove();
    }
  }
  if (wants('cost-curve')) {
    results.costCurve = await runCostCurve(ctx, { dir: bigDir!, events: config.BENCH_EVENTS });
  }
  if (wants('fixed-rate')) results.fixedRate = await runFixedRate(ctx, bigDir!, weekQuery);
  if (wants('hostile')) results.hostile = await runHostileClients(ctx, bigDir!, weekQuery);
  if (wants('mix')) results.trafficMix = await runTrafficMix(ctx, bigDir!, config.BENCH_EVENTS);
  if (wants('pages')) results.pages = await runPages(ctx, config.BENCH_PAGE_EVENTS);
  if (wants('ingestion')) results.ingestion = await runIngestion(ctx);
  if (wants('partners')) results.partners = await runPartnerFormats(ctx);
  if (wants('real-server')) results.realServer = await runRealServer(ctx);
  if (wants('feeds')) results.feeds = await runFeeds(ctx);
  if (wants('digest')) results.digestCost = await runDigestCost(ctx, config.BENCH_EVENTS);
  if (wants('changes')) {
    results.changeFeed = await runChangeFeed(ctx, config.BENCH_EVENTS, weekQuery);
  }
  if (wants('unchanged')) results.unchanged = await runUnchangedPoll(ctx);
  if (wants('startup')) results.startup = await runStartupUnderWrite(ctx);
  if (wants('cluster')) results.cluster = await runCluster(ctx);
  if (wants('cluster-feeds')) results.clusterFeeds = await runClusterFeeds(ctx);
  await writeReport(results);
  ctx.log('wrote docs/benchmarks.md, docs/benchmarks.json and the charts beside them');
}
