import { type Key, open } from 'lmdb';

/**
 * Alters a store behind its writer's back, as a disk fault, a bad restore or a hand edit would:
 * deletes `remove` events and flips a byte in `change` others, straight in LMDB, leaving `ids`
 * and the stored digest as they were. Only while no ingestor runs on the store.
 */
export async function tamperWithStore(
  path: string,
  { remove, change }: { remove: number; change: number },
): Promise<void> {
  const root = open({ path, noSubdir: false, maxDbs: 4 });
  try {
    const events = root.openDB<Buffer, Key>({ name: 'events', encoding: 'binary' });
    const keys = [...events.getKeys({ limit: remove + change })];
    await root.transaction(() => {
      for (const key of keys.slice(0, change)) {
        const value = Buffer.from(events.get(key)!);
        value[value.length - 2] = (value[value.length - 2] ?? 0) ^ 0x01;
        events.put(key, value);
      }
      for (const key of keys.slice(change)) events.remove(key);
    });
  } finally {
    await root.close();
  }
}
