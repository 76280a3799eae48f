import { jetstream } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { type NatsCluster, startNatsCluster, waitUntil } from '@tessera/testkit';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFeedLease } from '../src/feed-lease.js';

const log = pino({ level: 'silent' });
const LEASE_MS = 1_000;
let cluster: NatsCluster;
const connections: NatsConnection[] = [];

beforeAll(async () => {
  cluster = await startNatsCluster(3);
}, 30_000);
afterAll(async () => {
  for (const nc of connections) await nc.close().catch(() => {});
  await cluster.close();
});

async function lease(nodeId: string, bucket: string, wrap: (kv: KV) => KV = (kv) => kv) {
  const nc = await connect({ servers: cluster.url.split(','), maxReconnectAttempts: -1 });
  connections.push(nc);
  // An R3 bucket is created by the three servers' Raft group: while every suite runs at once
  // that can take longer than the client's default 5 s API timeout (CI saw it time out).
  const kvm = new Kvm(jetstream(nc, { timeout: 30_000 }));
  const kv = wrap(await kvm.create(bucket, { history: 1, replicas: 3, ttl: LEASE_MS }));
  const changes: boolean[] = [];
  const changedAt: number[] = [];
  const handle = startFeedLease({
    kv,
    feed: 'feed',
    nodeId,
    leaseMs: LEASE_MS,
    log,
    onChange: (l) => {
      changes.push(l);
      changedAt.push(Date.now());
    },
  });
  return { nc, handle, changes, changedAt };
}

// The bucket's creation may take up to its 30 s API timeout under load (see lease()).
describe('the feed lease', { timeout: 60_000 }, () => {
  it('has one holder; a clean stop hands it over at once', async () => {
    const a = await lease('a', 'lease_handover');
    await waitUntil(() => a.handle.isLeader(), { what: 'a leading' });
    const b = await lease('b', 'lease_handover');
    await new Promise((r) => setTimeout(r, 2 * LEASE_MS));
    expect(b.handle.isLeader()).toBe(false);
    const released = Date.now();
    await a.handle.close();
    await waitUntil(() => b.handle.isLeader(), { what: 'b leading' });
    expect(Date.now() - released).toBeLessThan(LEASE_MS);
    expect(a.changes).toEqual([true, false]);
    await b.handle.close();
  });

  it('is taken over within two lease periods when its holder dies', async () => {
    const a = await lease('a', 'lease_takeover');
    await waitUntil(() => a.handle.isLeader(), { what: 'a leading' });
    const b = await lease('b', 'lease_takeover');
    // The holder vanishes without a word: its connection is gone, its renewals with it.
    await a.nc.close();
    const died = Date.now();
    await waitUntil(() => b.handle.isLeader(), { what: 'b leading', timeoutMs: 10 * LEASE_MS });
    expect(Date.now() - died).toBeLessThan(2 * LEASE_MS + 500);
    // The old holder, unable to renew for a whole lease, no longer counts itself the leader.
    await waitUntil(() => !a.handle.isLeader(), {
      what: 'a stepping down',
      timeoutMs: 3 * LEASE_MS,
    });
    await Promise.all([a.handle.close(), b.handle.close()]);
  });

  it('a holder cut off from NATS steps down within a lease of sending its last write that landed, before the key can expire', async () => {
    // The bucket's clock for a write starts no earlier than its send: past a lease from the last
    // landed send, another node may hold the key, so this one must have stopped polling by then.
    let lastLandedSend = 0;
    const timedWrites = (kv: KV): KV =>
      new Proxy(kv, {
        get(target, key, receiver) {
          if (key !== 'update' && key !== 'create') return Reflect.get(target, key, receiver);
          return async (...args: unknown[]) => {
            const sentAt = Date.now();
            const write = Reflect.get(target, key, receiver) as (...a: unknown[]) => unknown;
            const revision = await write.apply(target, args);
            lastLandedSend = sentAt;
            return revision;
          };
        },
      });
    const a = await lease('a', 'lease_cut_off', timedWrites);
    await waitUntil(() => a.handle.isLeader(), { what: 'a leading' });
    // Let a few renewals land, then cut the holder off mid-term.
    await new Promise((r) => setTimeout(r, LEASE_MS + 100));
    await a.nc.close();
    // What is asserted is the step-down its handler hears. isLeader() goes false by the clock
    // alone, a moment before the timer that calls the handler has run: waiting on it raced.
    await waitUntil(() => a.changes.length === 2, {
      what: 'a stepping down',
      timeoutMs: 3 * LEASE_MS,
    });
    expect(a.handle.isLeader()).toBe(false);
    expect(a.changes).toEqual([true, false]);
    expect((a.changedAt[1] ?? 0) - lastLandedSend).toBeLessThan(LEASE_MS);
    await a.handle.close();
  });

  it('a stop during a renewal still releases the lease and stays stopped', async () => {
    // The renewal lands in the real bucket but its answer comes back late, so that the stop
    // falls between the two.
    let renewing: (() => void) | undefined;
    const slowRenewals = (kv: KV): KV =>
      new Proxy(kv, {
        get(target, key, receiver) {
          if (key !== 'update') return Reflect.get(target, key, receiver);
          return async (...args: Parameters<KV['update']>) => {
            const revision = await target.update(...args);
            renewing?.();
            await new Promise((r) => setTimeout(r, 200));
            return revision;
          };
        },
      });
    const a = await lease('a', 'lease_stop_renewing', slowRenewals);
    await waitUntil(() => a.handle.isLeader(), { what: 'a leading' });
    await new Promise<void>((resolve) => {
      renewing = resolve;
    });
    await a.handle.close();
    expect(a.changes).toEqual([true, false]);
    const b = await lease('b', 'lease_stop_renewing');
    await waitUntil(() => b.handle.isLeader(), { what: 'b leading', timeoutMs: LEASE_MS / 2 });
    await new Promise((r) => setTimeout(r, LEASE_MS));
    expect(a.changes).toEqual([true, false]);
    await b.handle.close();
  });
});
