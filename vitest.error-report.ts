import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Reporter, SerializedError, Vitest } from 'vitest/node';

/**
 * Errors raised outside any test (a rejection nobody awaited, a timer firing after its test
 * ended) fail vitest's run but appear in no JSON report. This reporter writes them apart, one
 * file per package, so that the CI summary counts and names them too: otherwise a run that
 * exits 1 reads "N passed, 0 failed".
 */
export class ErrorReport implements Reporter {
  private root = process.cwd();

  constructor(private readonly file: string) {}

  onInit(vitest: Vitest): void {
    this.root = vitest.config.root;
  }

  onTestRunEnd(_modules: unknown, unhandledErrors: ReadonlyArray<SerializedError>): void {
    const file = resolve(this.root, this.file);
    mkdirSync(dirname(file), { recursive: true });
    const errors = unhandledErrors.map((e) => ({
      name: e.name,
      message: e.message,
      stack: e.stack,
    }));
    writeFileSync(file, JSON.stringify({ errors }));
  }
}
