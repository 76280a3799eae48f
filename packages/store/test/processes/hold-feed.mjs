// Holds a feed transaction open in a process of its own, as an ingestor does while a slow feed
// streams in: writes one committed feed, opens the next, and commits it only when told to.
import { createInterface } from 'node:readline';
import { openStoreWriter } from '../../dist/index.js';

const [path, before, during] = process.argv.slice(2);
const store = openStoreWriter({ path });
const validators = { url: null, etag: null, lastModified: null, hash: null };
store.applyFeed(JSON.parse(before), { at: 1, validators });
const feed = store.beginFeed();
for (const record of JSON.parse(during)) feed.upsert(record);
process.stdout.write(`open ${process.pid}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'commit') {
    await feed.commit({ at: 2, validators });
    process.stdout.write('committed\n');
    await store.close();
    process.exit(0);
  }
}
