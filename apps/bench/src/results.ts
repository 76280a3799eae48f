import type { ChangeFeedResult } from './scenarios/change-feed.js';
import type { ClusterResult } from './scenarios/cluster.js';
import type { ClusterFeedsResult } from './scenarios/cluster-feeds.js';
import type { CostCurveResult } from './scenarios/cost-curve.js';
import type { DigestCostResult } from './scenarios/digest-cost.js';
import type { FeedsResult } from './scenarios/feeds.js';
import type { FixedRateResult } from './scenarios/fixed-rate.js';
import type { HostileResult } from './scenarios/hostile-clients.js';
import type { IngestResult, UnchangedResult } from './scenarios/ingestion.js';
import type { PagesResult } from './scenarios/pages.js';
import type { PartnerFormatResult } from './scenarios/partner-formats.js';
import type { RealServerResult } from './scenarios/real-server.js';
import type { SearchResult } from './scenarios/search-throughput.js';
import type { StartupResult } from './scenarios/startup-under-write.js';
import type { TrafficMix } from './scenarios/traffic-mix.js';

/** The scenarios, in the order they run; BENCH_ONLY picks some by these names. */
export const SCENARIOS = [
  'search',
  'cost-curve',
  'fixed-rate',
  'hostile',
  'mix',
  'pages',
  'ingestion',
  'partners',
  'real-server',
  'feeds',
  'digest',
  'changes',
  'unchanged',
  'startup',
  'cluster',
  'cluster-feeds',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface Machine {
  cpu: string;
  cores: number;
  memoryGb: number;
  kernel: string;
}

/** Everything one `make bench` run measured: docs/benchmarks.json. Sections not run are absent. */
export interface Results {
  startedAt: string;
  machine: Machine;
  node: string;
  packages: Record<string, string>;
  loadGenerator: string;
  /** The fixed-rate load generator and its version (absent in reports before h2load: autocannon). */
  fixedRateGenerator?: string;
  settings: { seconds: number; fixedSeconds: number; events: number; largeMb: number };
  ran: ScenarioName[];
  commands: string[];
  search?: SearchResult[];
  costCurve?: CostCurveResult;
  fixedRate?: FixedRateResult[];
  hostile?: HostileResult;
  trafficMix?: TrafficMix;
  pages?: PagesResult;
  ingestion?: IngestResult[];
  partners?: PartnerFormatResult[];
  realServer?: RealServerResult[];
  feeds?: FeedsResult[];
  digestCost?: DigestCostResult;
  changeFeed?: ChangeFeedResult;
  unchanged?: UnchangedResult;
  startup?: StartupResult;
  cluster?: ClusterResult;
  clusterFeeds?: ClusterFeedsResult;
}
