import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { eventIdFor } from '@tessera/core';
import addFormats from 'ajv-formats';
import { OpenAPIBackend } from 'openapi-backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PARTNER_OPENAPI_FILE, readOpenApi } from '../src/api-docs.js';
import { API_ERRORS } from '../src/api-error.js';
import { MAX_PAGE_LIMIT } from '../src/search-query.js';
import { event, fill, startApp } from './helpers.js';

/**
 * Real answers of every endpoint, validated by a maintained OpenAPI validator (openapi-backend,
 * on ajv) against the document the API serves, and the partner's original contract held to
 * everything it says. The case table must reach every (operation, status) the document lists.
 */
type Running = Awaited<ReturnType<typeof startApp>>;
let api: Running;
let empty: Running;
let broken: Running;
let busy: Running;
let expired: Running;
/** Tokens of api's and expired's stores before their events were written. */
let apiFrom: string;
let expiredFrom: string;
let crowded: Running;
let id: string;

// biome-ignore lint/suspicious/noExplicitAny: OpenAPI documents are navigated by path
type Document = any;
let served: Document;

/**
 * An OpenAPI validator over a document, formats checked. `time` is RFC 3339's partial-time in
 * both documents (the example is "22:38:19"): ajv-formats' `iso-time` reads it so, its `time`
 * would demand an offset.
 */
async function validatorOf(definition: Document): Promise<OpenAPIBackend> {
  const backend = new OpenAPIBackend({
    definition: structuredClone(definition),
    strict: true,
    customizeAjv: (ajv) => {
      addFormats.default(ajv);
      ajv.addFormat('time', ajv.formats['iso-time'] as never);
      return ajv;
    },
  });
  await backend.init();
  return backend;
}

beforeAll(async () => {
  api = await startApp();
  apiFrom = await tokenOf(api);
  const records = Array.from({ length: 30 }, (_, i) =>
    event(`2021-01-${String(1 + i).padStart(2, '0')}T10:00:00`, '2021-02-01T00:00:00', {
      ...(i % 5 === 0 ? { minPrice: null, maxPrice: null } : {}),
    }),
  );
  fill(api.writer, records, 1);
  id = records[0]?.id as string;
  empty = await startApp();
  broken = await startApp();
  fill(broken.writer, records, 1);
  broken.reader.scan = () => {
    throw new Error('broken');
  };
  broken.reader.runs = () => {
    throw new Error('broken');
  };
  broken.reader.event = () => {
    throw new Error('broken');
  };
  broken.reader.feeds = () => {
    throw new Error('broken');
  };
  // A budget that never refills in a test's lifetime: every scan past its first slice is refused.
  busy = await startApp({ cacheMaxBytes: 0, sliceEvents: 5, scanEventsPerSecond: 0.001 });
  fill(busy.writer, records, 1);
  expired = await startApp({}, {}, { changeRetention: { changes: 1 } });
  expiredFrom = await tokenOf(expired);
  fill(expired.writer, records, 1);
  crowded = await startApp({ changeLimits: { maxSubscribers: 1 } });
  served = await (await api.get('/openapi.json')).json();
});
afterAll(async () => {
  for (const running of [api, empty, broken, busy, expired, crowded]) await running?.close();
});

interface Case {
  operationId: string;
  status: number;
  run: () => Promise<Response>;
}

const get = (app: () => Running, path: string, init?: RequestInit) => () => app().get(path, init);

/** The Changes-Token of what `app` serves now. */
const tokenOf = async (app: Running) =>
  (await app.get('/search')).headers.get('changes-token') ?? '';

/**
 * An event stream of `api`'s changes from `since`, as an answer that ends after its first
 * events (a stream never ends on its own); `cut` false keeps the stream open for the caller.
 */
async function firstEvents(app: Running, since: string, cut = true): Promise<Response> {
  const res = await app.get(`/changes?since=${since}`, {
    headers: { accept: 'text/event-stream' },
  });
  if (!cut) return res;
  const reader = res.body!.getReader();
  let text = '';
  while (!text.includes('data: ')) text += new TextDecoder().decode((await reader.read()).value);
  await reader.cancel();
  return new Response(text, { status: res.status, headers: res.headers });
}
const etagOf = async (path: string) => (await api.get(path)).headers.get('etag') ?? '';

const CASES: Case[] = [
  { operationId: 'searchEvents', status: 200, run: get(() => api, '/search') },
  { operationId: 'searchEvents', status: 200, run: get(() => api, '/search?limit=7') },
  {
    operationId: 'searchEvents',
    status: 304,
    run: async () => api.get('/search', { headers: { 'If-None-Match': await etagOf('/search') } }),
  },
  { operationId: 'searchEvents', status: 400, run: get(() => api, '/search?starts_at=nope') },
  { operationId: 'searchEvents', status: 400, run: get(() => api, '/search?limit=0') },
  { operationId: 'searchEvents', status: 500, run: get(() => broken, '/search') },
  { operationId: 'searchEvents', status: 503, run: get(() => busy, '/search') },
  {
    operationId: 'searchEventsHead',
    status: 200,
    run: get(() => api, '/search?limit=3', { method: 'HEAD' }),
  },
  {
    operationId: 'searchEventsHead',
    status: 304,
    run: async () =>
      api.get('/search', { method: 'HEAD', headers: { 'If-None-Match': await etagOf('/search') } }),
  },
  {
    operationId: 'searchEventsHead',
    status: 400,
    run: get(() => api, '/search?ends_at=x', { method: 'HEAD' }),
  },
  {
    operationId: 'searchEventsHead',
    status: 503,
    // An unpaged HEAD reads no event, so only a page can be refused.
    run: get(() => busy, '/search?limit=30', { method: 'HEAD' }),
  },
  { operationId: 'getEvent', status: 200, run: () => api.get(`/events/${id}`) },
  {
    operationId: 'getEvent',
    status: 304,
    run: async () =>
      api.get(`/events/${id}`, { headers: { 'If-None-Match': await etagOf(`/events/${id}`) } }),
  },
  { operationId: 'getEvent', status: 400, run: get(() => api, '/events/42') },
  {
    operationId: 'getEvent',
    status: 404,
    run: get(() => api, `/events/${eventIdFor('x', 'y', 'z')}`),
  },
  { operationId: 'getEvent', status: 503, run: () => broken.get(`/events/${id}`) },
  { operationId: 'followChanges', status: 200, run: () => api.get(`/changes?since=${apiFrom}`) },
  { operationId: 'followChanges', status: 200, run: () => firstEvents(api, apiFrom) },
  { operationId: 'followChanges', status: 400, run: get(() => api, '/changes?since=nope') },
  {
    operationId: 'followChanges',
    status: 410,
    run: () => expired.get(`/changes?since=${expiredFrom}`),
  },
  {
    operationId: 'followChanges',
    status: 503,
    run: async () => {
      const held = await firstEvents(crowded, await tokenOf(crowded), false);
      try {
        return await crowded.get(`/changes?since=${await tokenOf(crowded)}`, {
          headers: { accept: 'text/event-stream' },
        });
      } finally {
        await held.body?.cancel();
      }
    },
  },
  { operationId: 'health', status: 200, run: get(() => api, '/health') },
  { operationId: 'ready', status: 200, run: get(() => api, '/ready') },
  { operationId: 'ready', status: 503, run: get(() => empty, '/ready') },
  { operationId: 'feeds', status: 200, run: get(() => api, '/feeds') },
  { operationId: 'feeds', status: 503, run: get(() => broken, '/feeds') },
  { operationId: 'metrics', status: 200, run: get(() => api, '/metrics') },
  { operationId: 'openApi', status: 200, run: get(() => api, '/openapi.json') },
  { operationId: 'docs', status: 200, run: get(() => api, '/docs') },
];

async function bodyOf(res: Response): Promise<unknown> {
  const text = await res.text();
  if (text === '') return undefined;
  return (res.headers.get('content-type') ?? '').startsWith('application/json')
    ? JSON.parse(text)
    : text;
}

describe('the served document', () => {
  it('is a valid OpenAPI document whose filled-in facts come from the code', async () => {
    await validatorOf(served); // strict: refuses an invalid document
    expect(served.components.schemas.ErrorBody.properties.error.properties.code.enum).toEqual(
      Object.keys(API_ERRORS),
    );
    expect(served.components.parameters.Limit.schema.maximum).toBe(MAX_PAGE_LIMIT);
  });

  it('is reached in full by the cases: every operation, every status it lists', () => {
    const listed = Object.values(served.paths).flatMap((item) =>
      Object.values(item as Record<string, Document>).flatMap((op) =>
        Object.keys(op.responses).map((status) => `${op.operationId} ${status}`),
      ),
    );
    const covered = new Set(CASES.map((c) => `${c.operationId} ${c.status}`));
    expect(listed.filter((entry) => !covered.has(entry))).toEqual([]);
    expect([...covered].filter((entry) => !listed.includes(entry))).toEqual([]);
  });

  it.each(CASES.map((c, i) => [`${c.operationId} ${c.status} #${i}`, c] as const))(
    'describes the real answer %s',
    async (_, c) => {
      const validator = await validatorOf(served);
      const res = await c.run();
      expect(res.status).toBe(c.status);
      const body = await bodyOf(res);
      const headers = Object.fromEntries(res.headers);
      expect(
        validator.validateResponseHeaders(headers, c.operationId, { statusCode: c.status })
          .errors ?? [],
      ).toEqual([]);
      const response = validator.getOperation(c.operationId)?.responses?.[c.status] as Document;
      // The validator checks JSON bodies only (against the JSON schema whatever the answer's
      // type): another type must be one the document lists for the answer.
      const type = (res.headers.get('content-type') ?? '').split(';')[0]!;
      if (body !== undefined && type !== 'application/json') {
        expect(Object.keys(response.content ?? {})).toContain(type);
      } else if (body !== undefined) {
        expect(validator.validateResponse(body, c.operationId, c.status).errors ?? []).toEqual([]);
      }
      for (const name of Object.keys(response.headers ?? {})) {
        if (name === 'Link' && !/limit=[37]/.test(res.url)) continue; // only while more remain
        expect(res.headers.get(name), name).not.toBeNull();
      }
    },
  );
});

const partner = await readOpenApi(PARTNER_OPENAPI_FILE);

describe("the partner's contract", () => {
  const shared = fileURLToPath(new URL('../../../../shared/openapi.yaml', import.meta.url));
  /** SHA-256 of the partner's document as it was given (../shared/openapi.yaml). */
  const GIVEN = '701d0609f1ca25fa24f324b655a768d19834a61f8e91a57255ee9e90086dcbd0';

  it('is kept exactly as the partner gave it', () => {
    const kept = readFileSync(PARTNER_OPENAPI_FILE);
    expect(createHash('sha256').update(kept).digest('hex')).toBe(GIVEN);
    // Where the partner's copy sits beside the project (CI), the two are the same bytes too.
    if (existsSync(shared)) expect(kept.equals(readFileSync(shared))).toBe(true);
  });

  it('still holds in the served document: its operations, parameters and statuses', () => {
    for (const [path, item] of Object.entries(partner.paths as Record<string, Document>)) {
      for (const [method, op] of Object.entries(item as Record<string, Document>)) {
        const ours = served.paths[path]?.[method];
        expect(ours, `${method} ${path}`).toBeDefined();
        expect(ours.operationId).toBe(op.operationId);
        const params = (ours.parameters as Document[]).map((p) =>
          p.$ref === undefined ? p : served.components.parameters[p.$ref.split('/').pop()],
        );
        for (const param of op.parameters as Document[]) {
          const match = params.find((p) => p.name === param.name && p.in === param.in);
          expect(match, param.name).toBeDefined();
          expect(match.required).toBe(param.required);
          expect(match.schema.type).toBe(param.schema.type);
          expect(match.schema.format).toBe(param.schema.format);
        }
        for (const status of Object.keys(op.responses)) {
          expect(Object.keys(ours.responses), `${method} ${path} ${status}`).toContain(status);
        }
      }
    }
  });

  it('still holds for EventSummary: the same fields, required alike, of the same types', () => {
    const theirs = partner.components.schemas.EventSummary;
    const ours = served.components.schemas.EventSummary;
    expect(ours.required).toEqual(theirs.required);
    for (const [name, schema] of Object.entries(theirs.properties as Record<string, Document>)) {
      const { description: _, example: __, ...shape } = schema;
      const { description: ___, example: ____, ...ourShape } = ours.properties[name];
      expect(ourShape, name).toEqual(shape);
    }
  });

  it("corrects the partner's descriptions where they contradict what the API does", () => {
    const theirs = partner.components.schemas.EventSummary.properties;
    const ours = served.components.schemas.EventSummary.properties;
    expect(theirs.max_price.description).toMatch(/^Min price/); // the partner's slip
    expect(ours.max_price.description).toMatch(/highest/i);
    const startsAt = served.components.parameters.StartsAt.description;
    expect(startsAt).toMatch(/at or after/);
    expect(startsAt).toMatch(/inclusive/);
  });

  it.each(
    CASES.filter(
      (c) => c.operationId === 'searchEvents' && c.status !== 304 && c.status !== 503,
    ).map((c, i) => [`${c.status} #${i}`, c] as const),
  )('describes the real /search answer %s too', async (_, c) => {
    const validator = await validatorOf({ ...partner, servers: [{ url: '/' }] });
    const res = await c.run();
    expect(
      validator.validateResponse(await bodyOf(res), 'searchEvents', c.status).errors ?? [],
    ).toEqual([]);
  });
});
