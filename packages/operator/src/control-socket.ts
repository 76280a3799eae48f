import { rmSync } from 'node:fs';
import { createServer, type IncomingMessage, request } from 'node:http';
import { join } from 'node:path';
import { errorEnvelope, resultEnvelope, resultOf } from './action-envelope.js';
import {
  type OperatorRequest,
  OperatorRequestSchema,
  type OperatorResult,
} from './operator-action.js';
import { OperatorError } from './operator-error.js';

/**
 * The API reaches the ingestor through a Unix socket in the store's directory: the two share
 * that directory in every layout (one machine, a compose pod, a Kubernetes pod), and no port is
 * opened for it. HTTP over the socket, with the API's envelope, so that curl can speak it too:
 * `curl --unix-socket DATA_DIR/control.sock -d '{"feed":"a","action":"poll","by":"me"}' http://ingestor/actions`.
 */
export const CONTROL_SOCKET = 'control.sock';

/** sun_path is 108 bytes on Linux, with its terminating NUL. */
const MAX_SOCKET_PATH = 107;

export function controlSocketPath(dataDir: string): string {
  return join(dataDir, CONTROL_SOCKET);
}

const MAX_BODY_BYTES = 4096;

export interface ControlListener {
  close(): Promise<void>;
}

/**
 * Serves operator actions on the control socket of `dataDir`, each done by `act`. A socket file
 * left by an ingestor that died is replaced: the store's writer lock makes this the only
 * ingestor of the store.
 */
export async function listenForActions(
  dataDir: string,
  act: (request: OperatorRequest) => Promise<OperatorResult>,
): Promise<ControlListener> {
  const path = controlSocketPath(dataDir);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new OperatorError(
      'action_failed',
      `the control socket path ${path} is longer than a Unix socket allows (${MAX_SOCKET_PATH} bytes): use a shorter DATA_DIR`,
    );
  }
  const server = createServer(async (req, res) => {
    const answer = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    try {
      if (req.method !== 'POST' || req.url !== '/actions') {
        return answer(404, { data: null, error: { code: 'not_found', message: 'POST /actions' } });
      }
      const parsed = OperatorRequestSchema.safeParse(await readJson(req));
      if (!parsed.success) {
        return answer(400, {
          data: null,
          error: {
            code: 'invalid_parameter',
            message: parsed.error.issues[0]?.message ?? 'invalid',
          },
        });
      }
      answer(200, resultEnvelope(await act(parsed.data)));
    } catch (error) {
      answer(error instanceof OperatorError ? error.status : 500, errorEnvelope(error));
    }
  });
  rmSync(path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req as AsyncIterable<Buffer>) {
    size += part.length;
    if (size > MAX_BODY_BYTES) throw new OperatorError('action_failed', 'the request is too large');
    parts.push(part);
  }
  try {
    return JSON.parse(Buffer.concat(parts).toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Asks the ingestor of `dataDir` to act; resolves with what it did, or throws an OperatorError
 * with the ingestor's code (`ingestor_unavailable` when nothing answers in `timeoutMs`).
 */
export async function requestAction(
  dataDir: string,
  action: OperatorRequest,
  timeoutMs = 10_000,
): Promise<OperatorResult> {
  const { status, body } = await post(
    controlSocketPath(dataDir),
    JSON.stringify(action),
    timeoutMs,
  );
  let envelope: unknown;
  try {
    envelope = JSON.parse(body);
  } catch (cause) {
    throw new OperatorError('action_failed', `the ingestor answered ${status} without JSON`, {
      cause,
    });
  }
  return resultOf(envelope);
}

function post(
  socketPath: string,
  body: string,
  timeoutMs: number,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        method: 'POST',
        path: '/actions',
        headers: { 'content-type': 'application/json', host: 'ingestor' },
        signal: AbortSignal.timeout(timeoutMs),
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (part: Buffer) => parts.push(part));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', (cause: NodeJS.ErrnoException) => {
      const why =
        cause.code === 'ENOENT' || cause.code === 'ECONNREFUSED'
          ? 'the ingestor is not running (no one listens on its control socket)'
          : cause.name === 'AbortError' || cause.name === 'TimeoutError'
            ? `the ingestor did not answer within ${timeoutMs} ms`
            : `the ingestor cannot be reached: ${cause.message}`;
      reject(new OperatorError('ingestor_unavailable', why, { cause }));
    });
    req.end(body);
  });
}
