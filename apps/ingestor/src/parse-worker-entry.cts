import type { ParseResult, ParseTask } from './parse-worker.js' with {
  'resolution-mode': 'import',
};

/**
 * The file piscina loads in each worker thread. Piscina first tries `require()` on a worker
 * file; on Node 20 that loads an ES module through require(esm), which can abort the whole
 * process ("v8::Module::IsGraphAsync must be used on an instantiated module", seen here in tests
 * and in a benchmark run). This CommonJS entry is what gets required, and it reaches the real
 * worker with a plain dynamic import().
 */
let load: Promise<(task: ParseTask) => ParseResult> | undefined;

export = async function parseChunkEntry(task: ParseTask): Promise<ParseResult> {
  load ??= import('./parse-worker.js').then((module) => module.default);
  return (await load)(task);
};
