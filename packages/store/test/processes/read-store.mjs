// Opens the store read-only in a process of its own and prints what it sees, as a new API process
// would on start.
import { openStoreReader } from '../../dist/index.js';

const store = openStoreReader({ path: process.argv[2] });
const titles = [...store.scan({ startsAt: null, endsAt: null })].map(
  (bytes) => JSON.parse(bytes.toString()).title,
);
process.stdout.write(`${JSON.stringify({ head: store.head(), titles })}\n`);
await store.close();
