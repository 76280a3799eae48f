import autocannon from 'autocannon';
import { createTrafficMix, type MixKind, type MixSpace } from './traffic-mix.js';

/**
 * The traffic mix's load generator, in a process of its own (pinned by its caller): autocannon
 * at a fixed overall rate, each request's path drawn from the seeded mix. Prints one JSON line.
 * Usage: node mix-load.js '{"base","rate","seconds","connections","seed","space"}'
 */
interface MixLoadArgs {
  base: string;
  rate: number;
  seconds: number;
  connections: number;
  seed: number;
  space: MixSpace;
}

const args = JSON.parse(process.argv[2] ?? '{}') as MixLoadArgs;
const next = createTrafficMix(args.space, args.seed);
const kinds: Record<MixKind, number> = { day: 0, fromNow: 0, event: 0, page: 0 };
const result = await autocannon({
  url: args.base,
  connections: args.connections,
  duration: args.seconds,
  overallRate: args.rate,
  requests: [
    {
      method: 'GET',
      setupRequest: (request) => {
        const { kind, path } = next();
        kinds[kind]++;
        return { ...request, path };
      },
    },
  ],
});
process.stdout.write(
  `${JSON.stringify({
    requests: result.requests.total,
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      p999: result.latency.p99_9,
      max: result.latency.max,
    },
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    kinds,
  })}\n`,
);
