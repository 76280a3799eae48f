import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '@tessera/testkit';

/** Where each measured package is installed from: the app or package that depends on it. */
const MEASURED: Record<string, string> = {
  koa: 'apps/api',
  '@koa/router': 'apps/api',
  'prom-client': 'apps/api',
  zod: 'apps/api',
  lmdb: 'packages/store',
  sax: 'apps/ingestor',
  piscina: 'apps/ingestor',
  autocannon: 'apps/bench',
  typescript: '.',
  vitest: '.',
};

/** The installed versions of the packages the figures depend on, read from their package.json. */
export function packageVersions(): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const [name, from] of Object.entries(MEASURED)) {
    versions[name] = installedVersion(name, join(REPO_ROOT, from)) ?? 'unknown';
  }
  return versions;
}

/** Some packages do not export their package.json: found from their entry point instead. */
function installedVersion(name: string, from: string): string | undefined {
  const require = createRequire(join(from, 'package.json'));
  let dir: string;
  try {
    dir = dirname(require.resolve(name));
  } catch {
    return undefined;
  }
  for (; dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (manifest.name === name) return manifest.version;
  }
  return undefined;
}
