import { readFileSync } from 'node:fs';
import { APP_ENVIRONMENT, APP_NODE_OPTIONS, type AppName } from '@tessera/testkit';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../../', import.meta.url);
const read = (file: string) => readFileSync(new URL(file, ROOT), 'utf8');

/** How the Makefile names each app's command line. */
const MAKE_VARIABLE: Record<AppName, string> = {
  api: 'API',
  ingestor: 'INGESTOR',
  'provider-sim': 'SIM',
};

/** The Makefile's command line of an app: `[env NAME=value …] node [options] apps/…/main.js`. */
function makefileLine(app: AppName): { environment: Record<string, string>; options: string[] } {
  const line = new RegExp(
    `^${MAKE_VARIABLE[app]}\\s*:=\\s*(?:env ((?:\\w+=\\S+\\s+)+))?node (.*)$`,
    'm',
  ).exec(read('Makefile'));
  if (line?.[2] === undefined)
    throw new Error(`no ${MAKE_VARIABLE[app]} := [env …] node … in the Makefile`);
  const words = line[2].trim().split(/\s+/);
  const assignments = (line[1] ?? '').trim().split(/\s+/).filter(Boolean);
  return {
    environment: Object.fromEntries(assignments.map((a) => a.split('=') as [string, string])),
    options: words.slice(0, words.indexOf(`apps/${app}/dist/main.js`)),
  };
}

function dockerfileStage(app: AppName): string {
  const stage = read('Dockerfile')
    .split(/^FROM /m)
    .find((s) => new RegExp(` AS ${app}\\n`).test(s));
  if (stage === undefined) throw new Error(`no ${app} stage in the Dockerfile`);
  return stage;
}

function dockerfileOptions(app: AppName): string[] {
  const cmd = /^CMD (\[.*\])$/m.exec(dockerfileStage(app))?.[1];
  if (cmd === undefined) throw new Error(`no CMD in the Dockerfile's ${app} stage`);
  const words = JSON.parse(cmd) as string[];
  return words.slice(1, words.indexOf('dist/main.js'));
}

/** NAME=value pairs of the ENV lines of the app's stage (the runtime stage's are the same for all). */
function dockerfileEnvironment(app: AppName): Record<string, string> {
  const pairs = [...dockerfileStage(app).matchAll(/^ENV (.*)$/gm)].flatMap((m) =>
    m[1]!.trim().split(/\s+/),
  );
  return Object.fromEntries(pairs.map((p) => p.split('=') as [string, string]));
}

describe('every launcher runs each app with the same Node options and environment as the tests', () => {
  for (const [app, options] of Object.entries(APP_NODE_OPTIONS) as Array<[AppName, string[]]>) {
    it(`${app}: the Makefile and the Dockerfile agree with the testkit`, () => {
      expect(makefileLine(app).options).toEqual(options);
      expect(dockerfileOptions(app)).toEqual(options);
    });
    it(`${app}: the Makefile and the Dockerfile set the testkit's environment`, () => {
      expect(makefileLine(app).environment).toEqual(APP_ENVIRONMENT[app]);
      expect(dockerfileEnvironment(app)).toMatchObject(APP_ENVIRONMENT[app]);
    });
  }
});
