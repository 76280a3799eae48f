// A service driven by runMain, behaving as the first argument says.
import { BootError, runMain } from '../../dist/index.js';

const mode = process.argv[2];
runMain('demo', async () => {
  if (mode === 'boot-error') throw new BootError('invalid setting PORT: too big');
  if (mode === 'boot-bug') throw new TypeError('x is not a function\n    at somewhere');
  process.stdout.write('started\n');
  return {
    done:
      mode === 'once'
        ? Promise.resolve(7)
        : mode === 'fatal'
          ? new Promise((_, reject) =>
              setTimeout(() => reject(new Error('the store failed 5 polls in a row')), 50),
            )
          : undefined,
    async stop() {
      await new Promise((resolve) => setTimeout(resolve, 50));
      process.stdout.write('stopped\n');
    },
  };
});
// Keeps a daemon alive.
if (mode === 'daemon') setInterval(() => {}, 1_000);
