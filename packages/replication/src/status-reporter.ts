import { processIdentity } from '@tessera/runtime';
import type { Logger } from 'pino';
import { type ReplicationStatus, writeReplicationStatus } from './replication-status.js';

/** How often the status file is rewritten even when nothing changed: the API's liveness proof. */
const STATUS_EVERY_MS = 2_000;

/** The leases this node holds, each with the time its cover ends by this node's clock. */
export type HeldLeases = () => ReadonlyMap<string, number>;

/**
 * The one owner of this node's replication status and of its file: the other parts change the
 * status's fields, then ask for a write; the reporter stamps it, names the leases held at that
 * moment, and rewrites it every 2 s meanwhile so that the API can tell a live ingestor.
 */
export interface StatusReporter {
  readonly status: ReplicationStatus;
  /** The leases the status names from now on (the lease set starts after the status does). */
  reportLeases(held: HeldLeases): void;
  write(): void;
  close(): void;
}

export function startStatusReporter(options: {
  dir: string;
  nodeId: string;
  /** Where this store stood in the stream when the node started. */
  appliedSequence: number;
  log: Logger;
}): StatusReporter {
  let held: HeldLeases = () => new Map();
  const status: ReplicationStatus = {
    nodeId: options.nodeId,
    role: 'follower',
    leading: [],
    leadingUntil: {},
    writer: processIdentity(),
    connected: false,
    appliedSequence: options.appliedSequence,
    latestSequence: options.appliedSequence,
    behindSince: null,
    diverged: null,
    configDiffers: [],
    updatedAt: Date.now(),
  };
  const write = (): void => {
    // What is held now, not what the last lease change said: a process woken from a pause past
    // its leases' cover writes its status (applying what arrived meanwhile) before their timers run.
    const now = held();
    status.leading = [...now.keys()];
    status.leadingUntil = Object.fromEntries(now);
    status.role = status.leading.length > 0 ? 'leader' : 'follower';
    status.updatedAt = Date.now();
    try {
      writeReplicationStatus(options.dir, status);
    } catch (error) {
      options.log.warn({ err: error }, 'could not write the replication status');
    }
  };
  write();
  const timer = setInterval(write, STATUS_EVERY_MS);
  return {
    status,
    reportLeases(leases) {
      held = leases;
    },
    write,
    close: () => clearInterval(timer),
  };
}
