import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';

/**
 * This node's connection to NATS: it waits for the first connection and then reconnects forever,
 * since a node without NATS still serves what it has.
 */
export function connectCluster(servers: string[], nodeId: string): Promise<NatsConnection> {
  return connect({
    servers,
    name: `tessera-ingestor ${nodeId}`,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: true,
    pingInterval: 2_000,
    maxPingOut: 2,
  });
}

/**
 * Follows the connection's status until it closes, and says when NATS becomes unreachable
 * (false) or reachable again (true); logged once per change.
 */
export async function watchConnection(
  nc: NatsConnection,
  log: Logger,
  changed: (connected: boolean) => void,
): Promise<void> {
  let connected = true;
  for await (const s of nc.status()) {
    if (s.type === 'disconnect' || s.type === 'reconnecting' || s.type === 'staleConnection') {
      if (connected) log.warn({ status: s.type }, 'NATS unreachable: serving what this node has');
      connected = false;
      changed(false);
    } else if (s.type === 'reconnect') {
      log.info('NATS reachable again');
      connected = true;
      changed(true);
    }
  }
}
