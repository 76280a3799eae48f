// Closes a store while scans are open, as an API does when it stops with answers still streaming,
// then touches those scans the way a stream's clean-up would. Without the scans ended first, the
// cursors are closed after their environment is freed and the process dies of SIGSEGV; so this
// runs in a process of its own, many rounds, and reports what the scans said.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedStore } from '@tessera/testkit';
import { openStoreReader, openStoreWriter } from '../../dist/index.js';

const rounds = Number(process.argv[2]);
const all = { startsAt: null, endsAt: null };
const errors = new Set();
for (let round = 0; round < rounds; round++) {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-close-'));
  const writer = openStoreWriter({ path: dir });
  seedStore(writer, 2_000);
  const reader = openStoreReader({ path: dir });
  const scans = [reader.scan(all), reader.scan(all), writer.scan(all)];
  for (const scan of scans) scan.next();
  await reader.close();
  await writer.close();
  // Memory freed by the close is reused before the scans are touched again.
  for (let i = 0; i < 20; i++) Buffer.alloc(64 * 1024, round).toString('latin1');
  for (const scan of scans) {
    try {
      scan.next();
      errors.add('read on');
    } catch (error) {
      errors.add(`${error.code}: ${error.message.replace(dir, '<dir>')}`);
    }
    scan.return();
  }
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify([...errors])}\n`);
