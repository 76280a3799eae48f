import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import type { BenchContext } from '../bench-context.js';
import {
  FIXED_RATE_CLIENTS,
  type FixedRate,
  measureFixedRate,
  oneUrlLoad,
} from '../fixed-rate-load.js';

export interface HostileResult {
  stalledClients: number;
  politeRate: number;
  /** The polite client alone, then with the stalled clients connected. */
  alone: FixedRate;
  underAttack: FixedRate;
  /** The API process's peak RSS during the attack. */
  peakRssMb: number;
  /** Stalled clients' requests answered 503 `overloaded` (of those whose status was read). */
  refused: number;
}

const STALLED = 200;
const POLITE_RATE = 1_000;

/**
 * A polite client's small window at a fixed rate, alone and then while 200 connections ask for
 * large uncached windows and never read (replaced as the server's idle timeout closes them).
 */
export async function runHostileClients(
  ctx: BenchContext,
  dataDir: string,
  politeQuery: string,
): Promise<HostileResult> {
  const seconds = ctx.config.BENCH_FIXED_SECONDS;
  const { api, base } = await ctx.startApi(dataDir, { API_WORKERS: '1' });
  const url = `${base}/search${politeQuery}`;
  const port = Number(new URL(base).port);
  ctx.log('hostile clients: the polite client alone');
  const alone = await measureFixedRate(oneUrlLoad(url, POLITE_RATE, seconds));

  ctx.log(`hostile clients: ${STALLED} connections that never read`);
  let attacking = true;
  let next = 0;
  let refused = 0;
  const open = new Set<Socket>();
  const attack = (): void => {
    if (!attacking) return;
    const i = next++;
    const from = new Date(Date.parse('2000-01-01T00:00:00Z') + i * 1000).toISOString();
    const socket = connect({ port, host: '127.0.0.1' }, () => {
      socket.write(`GET /search?starts_at=${from} HTTP/1.1\r\nHost: bench\r\n\r\n`);
    });
    // Reads only the status line, then never again.
    socket.once('data', (chunk: Buffer) => {
      if (chunk.toString('latin1', 0, 12) === 'HTTP/1.1 503') refused++;
      socket.pause();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      open.delete(socket);
      attack();
    });
    open.add(socket);
  };
  for (let i = 0; i < STALLED; i++) attack();
  let peakRssMb = 0;
  const sampler = setInterval(() => {
    peakRssMb = Math.max(peakRssMb, rssMb(api.child.pid!));
  }, 100);
  const underAttack = await measureFixedRate(oneUrlLoad(url, POLITE_RATE, seconds));
  clearInterval(sampler);
  attacking = false;
  for (const socket of open) socket.destroy();
  await api.stop();
  ctx.command(
    `h2load --h1 -c1 --rps=${POLITE_RATE / FIXED_RATE_CLIENTS} -D${seconds} 'http://127.0.0.1:PORT/search${politeQuery}'  # × ${FIXED_RATE_CLIENTS} processes, alone, then beside ${STALLED} connections asking large uncached windows and never reading (API_WORKERS=1)`,
  );
  return {
    stalledClients: STALLED,
    politeRate: POLITE_RATE,
    alone,
    underAttack,
    peakRssMb: Math.round(peakRssMb),
    refused,
  };
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) / 1024;
}
