import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '@tessera/testkit';

const run = promisify(execFile);

/**
 * A commit of this repository checked out and built beside the working tree, so that the
 * working tree's hot path is measured against it in the same run, on the same machine, in
 * interleaved rounds: a figure in the report, not a story about two runs on different days.
 */
export interface BaselineTree {
  /** As asked for (`b5f07fe`, `HEAD~1`) and as resolved. */
  ref: string;
  commit: string;
  /** The baseline's API entry point. */
  apiMain: string;
  /** Seeds a store with `events` events by the baseline's own code (its layout, its seed). */
  seed(dataDir: string, events: number): Promise<void>;
  /** Removes the checkout (the git worktree). */
  remove(): Promise<void>;
}

/**
 * Checks `ref` out into `dir` (a detached git worktree), installs its dependencies from the
 * local pnpm store where it can, and builds it with this Node. The caller removes it.
 */
export async function buildBaselineTree(
  ref: string,
  dir: string,
  log: (message: string) => void,
): Promise<BaselineTree> {
  const git = (...args: string[]) => run('git', ['-C', REPO_ROOT, ...args], { maxBuffer: 1 << 24 });
  const commit = (await git('rev-parse', '--verify', `${ref}^{commit}`)).stdout.trim();
  log(`baseline ${ref} (${commit.slice(0, 12)}): checking out and building`);
  await git('worktree', 'add', '--detach', '--force', dir, commit);
  const remove = async (): Promise<void> => {
    await git('worktree', 'remove', '--force', dir).catch(() => {});
  };
  try {
    const inTree = { cwd: dir, maxBuffer: 1 << 26, env: { ...process.env, CI: 'true' } };
    const pnpm = process.env.npm_execpath;
    const pnpmCommand = (args: string[]) =>
      pnpm === undefined
        ? run('pnpm', args, inTree)
        : run(process.execPath, [pnpm, ...args], inTree);
    await pnpmCommand(['install', '--frozen-lockfile', '--prefer-offline']);
    await pnpmCommand(['exec', 'turbo', 'run', 'build', '--output-logs=errors-only']);
    const apiMain = join(dir, 'apps', 'api', 'dist', 'main.js');
    if (!existsSync(apiMain)) throw new Error(`the baseline's build has no ${apiMain}`);
    return {
      ref,
      commit,
      apiMain,
      async seed(dataDir, events) {
        const store = join(dir, 'packages', 'store', 'dist', 'index.js');
        const testkit = join(dir, 'packages', 'testkit', 'dist', 'index.js');
        const script = [
          `const { openStoreWriter } = await import(${JSON.stringify(store)});`,
          `const { seedStore } = await import(${JSON.stringify(testkit)});`,
          `const writer = openStoreWriter({ path: ${JSON.stringify(dataDir)} });`,
          `seedStore(writer, ${events});`,
          'await writer.close();',
        ].join('\n');
        await run(process.execPath, ['--input-type=module', '-e', script], inTree);
      },
      remove,
    };
  } catch (error) {
    await remove();
    throw error;
  }
}
