import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { REPO_ROOT } from '@tessera/testkit';
import { describe, expect, it } from 'vitest';

/** The runtime's one home: every other place that names a Node version is held to it here. */
const read = (file: string) => readFileSync(`${REPO_ROOT}/${file}`, 'utf8');
const pinned = read('.node-version').trim();
const line = pinned.split('.')[0]!;

/** `^a.b.c || ^d.e.f`: the lines package.json says Tessera supports, and each one's minimum. */
function supportedLines(range: string): Map<string, number[]> {
  const lines = new Map<string, number[]>();
  for (const part of range.split('||')) {
    const match = /^\s*\^(\d+)\.(\d+)\.(\d+)\s*$/.exec(part);
    if (match === null)
      throw new Error(`engines.node: "${part}" is not of the form ^major.minor.patch`);
    lines.set(match[1]!, [Number(match[1]), Number(match[2]), Number(match[3])]);
  }
  return lines;
}

const atLeast = (version: number[], minimum: number[]) => {
  for (let i = 0; i < 3; i++) if (version[i] !== minimum[i]) return version[i]! > minimum[i]!;
  return true;
};

describe('the pinned runtime (.node-version)', () => {
  it('is a full version of a supported line that package.json declares', () => {
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines;
    const minimum = supportedLines(engines.node).get(line);
    expect(minimum, `engines.node "${engines.node}" has no ^${line} line`).toBeDefined();
    expect(atLeast(pinned.split('.').map(Number), minimum!)).toBe(true);
  });

  it('is the line the tests run on, and so the builds, the apps and their children', () => {
    // `make test NODE_VERSION=x.y.z` runs them on another supported line on purpose.
    const chosen = process.env.NODE_VERSION ?? pinned;
    expect(process.versions.node.split('.')[0]).toBe(chosen.split('.')[0]);
  });

  it('is the line of the Dockerfile base image', () => {
    expect(/^ARG NODE_VERSION=(\d+)$/m.exec(read('Dockerfile'))?.[1]).toBe(line);
    for (const from of read('Dockerfile').matchAll(/^FROM node:(\S+)/gm)) {
      expect(from[1]).toMatch(/^\$\{NODE_VERSION\}-bookworm-slim$/);
    }
  });

  it('is what scripts/install-node fetches: the node package of that exact version', () => {
    const script = read('scripts/install-node');
    expect(script).toContain('.node-version');
    // A dry look-up in the registry npm is set up for: the package the script would unpack exists.
    const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
    const found = execFileSync('npm', ['view', `node-linux-${arch}@${pinned}`, 'version'], {
      encoding: 'utf8',
    }).trim();
    expect(found).toBe(pinned);
  });
});
