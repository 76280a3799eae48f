import { get } from 'node:http';
import { createGunzip } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createProviderSim, type ProviderSim } from '../src/provider-sim.js';

let sim: ProviderSim;
let url: string;
beforeEach(async () => {
  sim = createProviderSim({ source: { kind: 'fixtures', vocabulary: 'event' } });
  url = await sim.listen();
});
afterEach(async () => {
  await sim.close();
});

describe('provider simulator', () => {
  it('rotates through the three fixture answers and honours If-None-Match', async () => {
    const first = await fetch(url);
    const etag = first.headers.get('etag')!;
    expect(await first.text()).toContain('Pantomima Full');
    const second = await fetch(url);
    expect(await second.text()).toContain('Tributo a Juanito Valderrama');
    await fetch(url);
    const fourth = await fetch(url, { headers: { 'if-none-match': etag } });
    expect(fourth.status).toBe(304);
    expect(sim.state().feedsServed).toBe(3);
  });

  it('serves a scripted sequence of faults, then normal answers', async () => {
    sim.setPlan({
      steps: [{ kind: 'status', status: 429, retryAfterSeconds: 3 }, { kind: 'html200' }],
      afterwards: 'none',
    });
    const limited = await fetch(url);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('3');
    const html = await fetch(url);
    expect(html.headers.get('content-type')).toBe('text/html');
    expect((await fetch(url)).status).toBe(200);
  });

  it('is steered through the control endpoint', async () => {
    const base = url.replace('/api/events', '');
    const put = await fetch(`${base}/control/source`, {
      method: 'PUT',
      body: JSON.stringify({ kind: 'generated', bases: 2, vocabulary: 'plan' }),
    });
    expect(put.status).toBe(200);
    expect(await (await fetch(url)).text()).toContain('<planList');
    const bad = await fetch(`${base}/control/plan`, {
      method: 'PUT',
      body: '{"steps":[{"kind":"nope"}]}',
    });
    expect(bad.status).toBe(400);
    const state = (await (await fetch(`${base}/control/state`)).json()) as {
      requests: number;
      feedRequests: number;
    };
    // Two PUTs and this GET besides the feed requests, which are counted apart.
    expect(state.requests).toBe(state.feedRequests + 3);
    expect(state.feedRequests).toBeGreaterThanOrEqual(1);
  });

  it('gzips for clients that accept it when asked to', async () => {
    const zipped = createProviderSim({ compress: true });
    const zurl = await zipped.listen();
    const res = await fetch(zurl, { headers: { 'accept-encoding': 'gzip' } });
    expect(res.status).toBe(200);
    // fetch inflates transparently; the header says what crossed the wire.
    expect(res.headers.get('content-encoding')).toBe('gzip');
    expect(await res.text()).toContain('<planList');
    await zipped.close();
  });

  it('sends a gzip bomb that is small on the wire', async () => {
    sim.setPlan({
      steps: [{ kind: 'gzip_bomb', inflatedBytes: 64 * 1024 * 1024 }],
      afterwards: 'none',
    });
    const { wire, inflated } = await new Promise<{ wire: number; inflated: number }>(
      (resolve, reject) => {
        get(url, (res) => {
          expect(res.headers['content-encoding']).toBe('gzip');
          let wireBytes = 0;
          let inflatedBytes = 0;
          const gunzip = createGunzip();
          res.on('data', (d: Buffer) => {
            wireBytes += d.length;
          });
          gunzip.on('data', (d: Buffer) => {
            inflatedBytes += d.length;
          });
          gunzip.on('end', () => resolve({ wire: wireBytes, inflated: inflatedBytes }));
          gunzip.on('error', reject);
          res.pipe(gunzip);
        }).on('error', reject);
      },
    );
    expect(wire).toBeLessThan(1024 * 1024);
    expect(inflated).toBeGreaterThanOrEqual(64 * 1024 * 1024);
  });

  it('holds a response part way until released', async () => {
    sim.setSource({ kind: 'fixtures', vocabulary: 'plan', response: 1 });
    sim.setPlan({ steps: [{ kind: 'hold', afterBytes: 100 }], afterwards: 'none' });
    const res = await fetch(url);
    const reader = res.body!.getReader();
    let received = 0;
    while (received < 100) received += (await reader.read()).value?.length ?? 0;
    expect(received).toBe(100);
    await new Promise((r) => setTimeout(r, 50));
    expect(sim.state()).toMatchObject({ held: 1, feedsServed: 0 });
    sim.release();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      received += chunk.value.length;
    }
    expect(received).toBeGreaterThan(1_000);
    expect(sim.state()).toMatchObject({ held: 0, feedsServed: 1 });
  });

  it('serves a given document, in the vocabulary its faults should use', async () => {
    const body = '<planList><output></output></planList>';
    sim.setSource({ kind: 'document', body });
    const res = await fetch(url);
    expect(await res.text()).toBe(body);
    const etag = res.headers.get('etag')!;
    expect((await fetch(url, { headers: { 'if-none-match': etag } })).status).toBe(304);
  });
});
