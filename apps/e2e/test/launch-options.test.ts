import { readFileSync } from 'node:fs';
import { APP_NODE_OPTIONS, type AppName } from '@tessera/testkit';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../../', import.meta.url);
const read = (file: string) => readFileSync(new URL(file, ROOT), 'utf8');

/** How the Makefile names each app's command line. */
const MAKE_VARIABLE: Record<AppName, string> = {
  api: 'API',
  ingestor: 'INGESTOR',
  'provider-sim': 'SIM',
};

/** The options between `node` and the script, as each launcher writes them. */
function makefileOptions(app: AppName): string[] {
  const line = new RegExp(`^${MAKE_VARIABLE[app]}\\s*:=\\s*node (.*)$`, 'm').exec(read('Makefile'));
  if (line?.[1] === undefined)
    throw new Error(`no ${MAKE_VARIABLE[app]} := node … in the Makefile`);
  const words = line[1].trim().split(/\s+/);
  return words.slice(0, words.indexOf(`apps/${app}/dist/main.js`));
}

function dockerfileOptions(app: AppName): string[] {
  const stage = read('Dockerfile')
    .split(/^FROM /m)
    .find((s) => new RegExp(` AS ${app}\\n`).test(s));
  const cmd = stage === undefined ? undefined : /^CMD (\[.*\])$/m.exec(stage)?.[1];
  if (cmd === undefined) throw new Error(`no CMD in the Dockerfile's ${app} stage`);
  const words = JSON.parse(cmd) as string[];
  return words.slice(1, words.indexOf('dist/main.js'));
}

describe('every launcher runs each app with the same Node options as the tests', () => {
  for (const [app, options] of Object.entries(APP_NODE_OPTIONS) as Array<[AppName, string[]]>) {
    it(`${app}: the Makefile and the Dockerfile agree with the testkit`, () => {
      expect(makefileOptions(app)).toEqual(options);
      expect(dockerfileOptions(app)).toEqual(options);
    });
  }
});
