import type { IncomingMessage, ServerResponse } from 'node:http';
import { FaultPlanSchema } from './fault-plan.js';
import type { ProviderSim } from './provider-sim.js';
import { SourceSchema } from './source.js';

export const CONTROL_PREFIX = '/control/';
export const EXTERNAL_ENTITY_PATH = '/control/external-entity';

/**
 * The simulator's control API, for tests and the benchmark: `GET /control/state`,
 * `PUT /control/plan`, `PUT /control/source`, `POST /control/release` (lets held responses go
 * on), and the external-entity target that an XML parser must never fetch.
 */
export async function handleControl(
  sim: ProviderSim,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  onExternalEntity: () => void,
): Promise<void> {
  const json = (status: number, value: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
  };
  if (path === EXTERNAL_ENTITY_PATH) {
    onExternalEntity();
    res.writeHead(200, { 'content-type': 'text/plain' }).end('external entity fetched');
    return;
  }
  if (path === '/control/state' && req.method === 'GET') return json(200, sim.state());
  if (path === '/control/release' && req.method === 'POST') {
    sim.release();
    return json(200, sim.state());
  }
  if ((path === '/control/plan' || path === '/control/source') && req.method === 'PUT') {
    try {
      const body = JSON.parse(await readBody(req));
      if (path === '/control/plan') sim.setPlan(FaultPlanSchema.parse(body));
      else sim.setSource(SourceSchema.parse(body));
      return json(200, sim.state());
    } catch (error) {
      return json(400, { error: error instanceof Error ? error.message : String(error) });
    }
  }
  json(404, { error: 'unknown control path' });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req as AsyncIterable<Buffer>) {
    size += part.length;
    if (size > 16 * 1024 * 1024) throw new Error('control body too large');
    parts.push(part);
  }
  return Buffer.concat(parts).toString('utf8');
}
