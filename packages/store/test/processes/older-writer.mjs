// Writes as a Tessera that keeps no blocks would, in a process of its own: one event put into
// `events` and the state digest moved, the blocks and their stamp left as they were.
import { open } from 'lmdb';
import { encodeEventValue, eventKey } from '../../dist/layout.js';

const [path, id, startsAt, summary] = process.argv.slice(2);
const root = open({ path, noSubdir: false, maxDbs: 5 });
const start = Number(startsAt);
await root.transaction(() => {
  root
    .openDB('events', { encoding: 'binary' })
    .putSync(eventKey(start, id), encodeEventValue(start + 3_600_000, summary));
  root.openDB('meta', { encoding: 'msgpack' }).putSync('digest', `moved-by-${id}`);
});
await root.close();
process.stdout.write('written\n');
