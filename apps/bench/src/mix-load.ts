import autocannon from 'autocannon';
import { fixedRateOf } from './load.js';
import { createTrafficMix, type MixKind, type MixLoadArgs } from './traffic-mix.js';

/**
 * The traffic mix's load generator, in a process of its own (pinned by its caller): autocannon
 * at a fixed overall rate, each request's path drawn from the seeded mix. Prints one JSON line.
 * Usage: node mix-load.js '{"base","rate","seconds","connections","seed","space"}'
 */
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
process.stdout.write(`${JSON.stringify({ ...fixedRateOf(result), kinds })}\n`);
