import type { Results } from './results.js';

/** One target checked against one measured figure. */
export interface Verdict {
  target: string;
  measured: string;
  met: boolean;
}

const fixed = (x: number, digits: number) => x.toFixed(digits);

/** Windows a consumer's date picker asks for miss the cache: served at this share of a hit's rate. */
const UNCACHED_SHARES: ReadonlyArray<readonly [events: number, share: number]> = [
  [100, 0.5],
  [1000, 0.3],
];

/**
 * Every target `make bench` checks, in one place: the report's verdict table is derived from
 * it, and a target whose scenario did not run is left out. Set for this 2-core machine with the
 * load generator on it too.
 */
export function judge(r: Results): Verdict[] {
  const verdicts: Verdict[] = [];
  const check = (target: string, measured: string, met: boolean) =>
    verdicts.push({ target, measured, met });

  for (const s of (r.search ?? []).filter(
    (s) => !s.scenario.includes('no parameters') && s.koaSameAnswer !== undefined,
  )) {
    check(
      `/search ≥ 0.95 of the Koa floor: ${s.scenario}`,
      `${fixed(s.ofKoa.requestsPerSecond, 2)} of Koa (${fixed(s.ofKoaSameAnswer.requestsPerSecond, 2)} of Koa sending the same head, ${fixed(s.ofRaw.requestsPerSecond, 2)} of raw)`,
      s.ofKoa.requestsPerSecond >= 0.95,
    );
    check(
      `/search CPU per request ≤ 1/0.95 of the Koa floor's: ${s.scenario}`,
      `${fixed(s.tessera.medianCpuUsPerRequest, 1)} µs against ${fixed(s.koa.medianCpuUsPerRequest, 1)} µs (${fixed(s.ofKoa.cpuPerRequest, 2)}; ${fixed(s.ofKoaSameAnswer.cpuPerRequest, 2)} of Koa sending the same head)`,
      s.ofKoa.cpuPerRequest >= 0.95,
    );
    if (s.baseline !== undefined) {
      const ratio = 1 / s.baseline.paired.cpuPerRequest;
      check(
        `/search CPU per request ≤ 1.05 × the baseline commit's (${s.baseline.ref}): ${s.scenario}`,
        `${fixed(ratio, 3)} × (${fixed(s.tessera.medianCpuUsPerRequest, 1)} µs against ${fixed(s.baseline.medianCpuUsPerRequest, 1)} µs)${s.baseline.sameBody ? '' : ', answers differ'}`,
        ratio <= 1.05 && s.baseline.sameBody,
      );
    }
  }
  for (const [events, share] of UNCACHED_SHARES) {
    const point = r.costCurve?.byResultSize.find((p) => p.events === events);
    if (point === undefined) continue;
    // Reports of runs before the rounds alternated have no share: their two figures' ratio.
    const ratio =
      point.uncachedShare ?? point.uncached.requestsPerSecond / point.cached.requestsPerSecond;
    check(
      `an uncached ${events}-event window ≥ ${share} of the cached rate`,
      `${fixed(ratio, 2)}, the median of rounds' own ratios (median runs: ${Math.round(point.uncached.requestsPerSecond)} against ${Math.round(point.cached.requestsPerSecond)} req/s)`,
      ratio >= share,
    );
  }
  for (const f of (r.fixedRate ?? []).filter((f) => f.targetRate === 10_000)) {
    const limit = f.during === 'ingesting' ? 20 : 10;
    check(
      `p99 ≤ ${limit} ms at 10k req/s, ${f.during}, ${f.pinned ? 'pinned' : 'unpinned'}`,
      `${fixed(f.latencyMs.p99, 1)} ms, ${Math.round(f.achievedRate)} req/s, ${f.errors + f.non2xx} errors`,
      f.latencyMs.p99 <= limit &&
        f.errors + f.non2xx === 0 &&
        f.achievedRate >= 0.98 * f.targetRate,
    );
  }
  for (const f of r.trafficMix?.rates ?? []) {
    const limit = f.targetRate <= 5_000 ? 10 : 20;
    check(
      `traffic mix: p99 ≤ ${limit} ms at ${f.targetRate / 1000}k req/s, a feed change every ${r.trafficMix!.pollMs / 1000} s`,
      `${fixed(f.latencyMs.p99, 1)} ms (the load generator alone: ${fixed(f.generatorFloor.p99, 1)} ms), ${Math.round(f.achievedRate)} req/s, ${f.feedsApplied} changes, ${f.errors + f.non2xx} errors`,
      f.latencyMs.p99 <= limit &&
        f.errors + f.non2xx === 0 &&
        f.achievedRate >= 0.98 * f.targetRate,
    );
  }
  if (r.hostile !== undefined) {
    const p99 = r.hostile.underAttack.latencyMs.p99;
    check(
      `polite client p99 < 100 ms beside ${r.hostile.stalledClients} stalled clients`,
      `${fixed(p99, 1)} ms`,
      p99 < 100,
    );
  }
  if (r.pages !== undefined) {
    const p = r.pages;
    check(
      `a page of 100 from ${p.events} events in less time than the unpaged answer's first 100`,
      `${fixed(p.page.first100Ms, 2)} ms against ${fixed(p.unpaged.first100Ms, 2)} ms`,
      p.page.first100Ms < p.unpaged.first100Ms,
    );
    check(
      '/events/{id} ≥ 0.9 of the Koa floor',
      p.eventPaired === undefined
        ? `${fixed(p.eventOfKoa, 2)} of Koa`
        : `${fixed(p.eventOfKoa, 2)} of Koa (${fixed(p.eventPaired.ofKoaSameAnswer.requestsPerSecond, 2)} of Koa sending the same head)`,
      p.eventOfKoa >= 0.9,
    );
  }
  const sixteen = r.feeds?.find((f) => f.feeds === 16 && f.slow);
  if (sixteen?.slowMs != null) {
    check(
      'with 16 feeds, the quick ones all visible before the slow one',
      `slowest quick feed ${fixed(sixteen.quickMaxMs / 1000, 1)} s, slow feed ${fixed(sixteen.slowMs / 1000, 1)} s`,
      sixteen.quickMaxMs < sixteen.slowMs,
    );
  }
  for (const i of (r.ingestion ?? []).filter((i) => i.threads === 2)) {
    check(
      `ingest peak RSS ≤ 200 MiB, ${i.feed} feed, 2 threads`,
      `${i.peakRssMb} MiB`,
      i.peakRssMb <= 200,
    );
  }
  const large = (r.ingestion ?? []).filter((i) => i.threads === 2).at(-1);
  if (large !== undefined) {
    check(
      `ingest ≥ 100 MB/s, ${large.feed} feed, 2 threads, whole --once process`,
      `${fixed((large.mbPerSecond * 1024 ** 2) / 1e6, 1)} MB/s`,
      (large.mbPerSecond * 1024 ** 2) / 1e6 >= 100,
    );
  }
  for (const p of r.partners ?? []) {
    check(
      `ingest peak RSS ≤ 200 MiB, ${p.format} partner feed through its mapping, 2 threads`,
      `${p.peakRssMb} MiB`,
      p.peakRssMb <= 200,
    );
    if (p.format === 'json') {
      check(
        'a JSON partner feed ingests at ≥ 50 MB/s through its mapping, 2 threads',
        `${fixed(p.mbPerSecond, 1)} MB/s`,
        p.mbPerSecond >= 50,
      );
    } else if (large !== undefined) {
      const builtIn = (large.mbPerSecond * 1024 ** 2) / 1e6;
      check(
        `a mapped XML partner feed ingests at ≥ 0.8 of the built-in path (${large.feed} feed, same run)`,
        `${fixed(p.mbPerSecond, 1)} MB/s against ${fixed(builtIn, 1)} MB/s (${fixed(p.mbPerSecond / builtIn, 2)})`,
        p.mbPerSecond >= 0.8 * builtIn,
      );
    }
  }
  if (r.startup !== undefined) {
    check(
      'API start-up to first answer ≤ 1 s while a feed is half received',
      `${Math.round(r.startup.underWriteMs)} ms`,
      r.startup.underWriteMs <= 1_000,
    );
  }
  if (r.cluster !== undefined) {
    const c = r.cluster;
    check('replication lag p99 ≤ 1 s', `${c.lag.p99Ms} ms`, c.lag.p99Ms <= 1_000);
    check(
      'leader takeover ≤ 2 lease periods',
      `${c.takeoverMs} ms (lease ${c.leaseMs} ms)`,
      c.takeoverMs <= 2 * c.leaseMs,
    );
    check(
      'catch-up ≤ 2 × a local ingest of the same data',
      `${fixed(c.catchUp.ratio, 2)} ×`,
      c.catchUp.ratio <= 2,
    );
  }
  if (r.clusterFeeds !== undefined) {
    const c = r.clusterFeeds;
    const share = Math.ceil(c.feeds / c.nodes);
    const most = Math.max(...c.perNode.map((p) => p.leading.length));
    check(
      `${c.feeds} feeds over ${c.nodes} nodes: none leads more than ceil(feeds / nodes)`,
      c.perNode.map((p) => p.leading.length).join(' / '),
      most <= share,
    );
    const busiest = Math.max(...c.perNode.map((p) => p.cpuSeconds));
    check(
      'the busiest node spends ≤ 0.6 of the CPU one node spends on the same feeds',
      `${fixed(busiest, 1)} s against ${fixed(c.singleNodeCpuSeconds, 1)} s (${fixed(busiest / c.singleNodeCpuSeconds, 2)})`,
      busiest <= 0.6 * c.singleNodeCpuSeconds,
    );
  }
  return verdicts;
}
