import type { MappedTask } from './mapped-worker.js' with { 'resolution-mode': 'import' };
import type { ParseResult, ParseTask } from './parse-worker.js' with {
  'resolution-mode': 'import',
};

/**
 * The file piscina loads in each worker thread. Piscina first tries `require()` on a worker
 * file; on Node 20 that loads an ES module through require(esm), which can abort the whole
 * process ("v8::Module::IsGraphAsync must be used on an instantiated module", seen here in tests
 * and in a benchmark run). This CommonJS entry is what gets required, and it reaches the real
 * workers with a plain dynamic import(). One entry serves both kinds of task, told apart by
 * shape: piscina's named handlers would need an ES module export object here.
 */
let chunks: Promise<(task: ParseTask) => ParseResult> | undefined;
let mapped: Promise<(task: MappedTask) => Promise<void>> | undefined;

export = async function parseEntry(task: ParseTask | MappedTask): Promise<ParseResult | undefined> {
  if ('port' in task) {
    mapped ??= import('./mapped-worker.js').then((module) => module.default);
    await (await mapped)(task);
    return undefined;
  }
  chunks ??= import('./parse-worker.js').then((module) => module.default);
  return (await chunks)(task);
};
