// Opens the store as its writer in a process of its own, applies one event of feed `a`, and
// closes: the writer another process's reader sees from outside.
import { openStoreWriter } from '../../dist/index.js';

const [path, id] = process.argv.slice(2);
const store = openStoreWriter({ path });
const startsAt = Date.parse('2021-06-01T00:00:00Z');
store.applyFeed(
  'a',
  [{ id, startsAt, endsAt: startsAt + 3_600_000, summary: JSON.stringify({ id }) }],
  {
    at: 1,
    validators: { urlDigest: null, etag: null, lastModified: null, hash: null },
  },
);
await store.close();
process.stdout.write('applied\n');
