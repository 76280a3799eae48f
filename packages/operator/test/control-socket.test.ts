import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type ControlListener,
  controlSocketPath,
  listenForActions,
  OperatorError,
  type OperatorRequest,
  requestAction,
} from '../src/index.js';

let dir: string;
let listener: ControlListener | undefined;
const seen: OperatorRequest[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-op-'));
  seen.length = 0;
});
afterEach(async () => {
  await listener?.close();
  listener = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** An ingestor's side that knows one feed, `a`, paused after a pause. */
async function listen(): Promise<void> {
  let paused = false;
  listener = await listenForActions(dir, async (request) => {
    seen.push(request);
    if (request.feed !== 'a') throw new OperatorError('unknown_feed', `no feed ${request.feed}`);
    if (request.action === 'poll' && paused) throw new OperatorError('feed_paused', 'paused');
    const was = paused;
    if (request.action !== 'poll') paused = request.action === 'pause';
    return {
      feed: request.feed,
      action: request.action,
      outcome:
        request.action === 'poll'
          ? 'polling'
          : was === paused
            ? 'unchanged'
            : paused
              ? 'paused'
              : 'resumed',
      paused,
      node: 'n1',
    };
  });
}

describe('the control socket', () => {
  it('carries an action to the ingestor and its result back, errors with their codes', async () => {
    await listen();
    const ask = (action: OperatorRequest['action'], feed = 'a') =>
      requestAction(dir, { feed, action, by: '127.0.0.1' });
    expect(await ask('poll')).toEqual({
      feed: 'a',
      action: 'poll',
      outcome: 'polling',
      paused: false,
      node: 'n1',
    });
    expect((await ask('pause')).outcome).toBe('paused');
    expect((await ask('pause')).outcome).toBe('unchanged');
    await expect(ask('poll')).rejects.toMatchObject({ code: 'feed_paused', status: 409 });
    await expect(ask('resume', 'zz')).rejects.toMatchObject({ code: 'unknown_feed', status: 404 });
    expect((await ask('resume')).outcome).toBe('resumed');
    expect(seen.map((r) => `${r.action} ${r.feed} by ${r.by}`)).toContain('pause a by 127.0.0.1');
  });

  it('speaks plain HTTP with the envelope, as curl sees it', async () => {
    await listen();
    // Asynchronously: the server answering it runs in this process.
    const curl = async (body: string) =>
      JSON.parse(
        (
          await promisify(execFile)('curl', [
            '-s',
            '--unix-socket',
            controlSocketPath(dir),
            '-d',
            body,
            'http://ingestor/actions',
          ])
        ).stdout,
      );
    expect(await curl('{"feed":"a","action":"poll","by":"curl"}')).toMatchObject({
      data: { outcome: 'polling' },
      error: null,
    });
    expect(await curl('{"feed":"a","action":"explode","by":"curl"}')).toMatchObject({
      data: null,
      error: { code: 'invalid_parameter' },
    });
    expect(seen).toHaveLength(1);
  });

  it('says the ingestor is unavailable when no one listens, and replaces a socket file left behind', async () => {
    await expect(requestAction(dir, { feed: 'a', action: 'poll', by: 'x' })).rejects.toMatchObject({
      code: 'ingestor_unavailable',
      message: expect.stringContaining('not running'),
    });
    writeFileSync(controlSocketPath(dir), '');
    await expect(requestAction(dir, { feed: 'a', action: 'poll', by: 'x' })).rejects.toMatchObject({
      code: 'ingestor_unavailable',
    });
    await listen();
    expect((await requestAction(dir, { feed: 'a', action: 'poll', by: 'x' })).outcome).toBe(
      'polling',
    );
  });

  it('refuses a store directory too deep for a Unix socket, saying so', async () => {
    const deep = join(dir, 'x'.repeat(120));
    await expect(listenForActions(deep, async () => never())).rejects.toThrow(/shorter DATA_DIR/);
  });
});

function never(): never {
  throw new Error('not called');
}
