// Receives a feed in a process of its own, as an ingestor does while a slow feed streams in:
// writes one committed feed, stages the next, and applies it only when told to.
import { createInterface } from 'node:readline';
import { openStoreWriter } from '../../dist/index.js';

const [path, before, during] = process.argv.slice(2);
const store = openStoreWriter({ path });
const validators = { url: null, etag: null, lastModified: null, hash: null };
store.applyFeed('test', JSON.parse(before), { at: 1, validators });
const stage = store.openStage('feed');
stage.add(JSON.parse(during));
process.stdout.write(`open ${process.pid}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'commit') {
    store.applyFeed('test', stage.records(), { at: 2, validators });
    process.stdout.write('committed\n');
    await store.close();
    process.exit(0);
  }
}
