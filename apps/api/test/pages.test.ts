import type { EventRecord } from '@tessera/core';
import { createRandom } from '@tessera/simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { event, fill, json, startApp } from './helpers.js';

/**
 * Pages against the unpaged answer, which is the reference: following `next` from the first page
 * must give exactly its events, in its order, for generated stores and windows. The seed is in
 * every test's name (PAGES_SEED reruns one).
 */
const SEED = Number(process.env.PAGES_SEED ?? 1);
const random = createRandom(SEED);
const pick = (n: number) => Math.floor(random() * n);
const LIMIT = 1 + pick(100);

type Running = Awaited<ReturnType<typeof startApp>>;
let api: Running;
const SECRET = 'a secret shared by the tests';

const iso = (t: number) => new Date(t).toISOString().slice(0, 19);
const year = (y: number) => Date.parse(`${y}-01-01T00:00:00Z`);

/**
 * `count` events inside year `y` (many sharing a start, so that ids break ties across pages)
 * and as many that start in it but end after it: scanned, filtered out of the window.
 */
function yearOf(y: number, count: number): EventRecord[] {
  const span = year(y + 1) - year(y) - 7_200_000;
  const starts = Array.from(
    { length: Math.max(1, Math.ceil(count / 3)) },
    () => Math.floor((year(y) + pick(span)) / 1000) * 1000,
  );
  const inside = Array.from({ length: count }, (_, i) => {
    const start = starts[pick(starts.length)] as number;
    return event(iso(start), iso(start + 3_600_000), { title: `in ${y} #${i}` });
  });
  const spilling = Array.from({ length: Math.min(count, 500) }, (_, i) => {
    const start = starts[pick(starts.length)] as number;
    return event(iso(start), iso(year(y + 1) + 60_000), { title: `spills ${y} #${i}` });
  });
  return [...inside, ...spilling];
}

/** Windows holding exactly these many events: 0, 1, the limit, the limit + 1, 50,000. */
const WINDOWS: Array<[count: number, y: number]> = [
  [0, 2001],
  [1, 2002],
  [LIMIT, 2003],
  [LIMIT + 1, 2004],
  [50_000, 2005],
];
const windowOf = (y: number) => `starts_at=${y}-01-01T00:00:00Z&ends_at=${y}-12-31T23:59:59Z`;

/** Everything written: the reference the unpaged answer is held to, by the /search rule by hand. */
let written: EventRecord[] = [];

/** The window's events from what was written: inclusive bounds, in (start, id) order. */
function expectedIds(y: number): string[] {
  const from = year(y);
  const to = Date.parse(`${y}-12-31T23:59:59Z`);
  return written
    .filter((r) => r.startsAt >= from && r.endsAt <= to)
    .sort((a, b) => a.startsAt - b.startsAt || (a.id < b.id ? -1 : 1))
    .map((r) => r.id);
}

beforeAll(async () => {
  api = await startApp({ cursorSecret: SECRET });
  written = WINDOWS.flatMap(([count, y]) => yearOf(y, count));
  fill(api.writer, written, 1);
});
afterAll(async () => {
  await api.close();
});

interface Page {
  ids: string[];
  next: string | undefined;
}

async function page(path: string): Promise<Page> {
  const res = await api.get(path);
  expect(res.status, await res.clone().text()).toBe(200);
  const body = await json(res);
  return {
    ids: body.data.events.map((e: { id: string }) => e.id),
    next: nextOf(res.headers.get('link')),
  };
}

function nextOf(link: string | null): string | undefined {
  if (link === null) return undefined;
  const match = /^<([^>]+)>; rel="next"$/.exec(link);
  expect(match, link).not.toBeNull();
  return match?.[1];
}

async function followAll(first: string, limit: number): Promise<string[][]> {
  const pages: string[][] = [];
  let path: string | undefined = first;
  while (path !== undefined) {
    const p = await page(path);
    expect(p.ids.length).toBeLessThanOrEqual(limit);
    pages.push(p.ids);
    path = p.next;
  }
  return pages;
}

describe(`pages (PAGES_SEED=${SEED}, limit ${LIMIT})`, () => {
  it.each(WINDOWS)('add up to the unpaged answer for a window of %i events', async (count, y) => {
    const whole = (await page(`/search?${windowOf(y)}`)).ids;
    expect(whole).toHaveLength(count);
    expect(whole).toEqual(expectedIds(y));
    for (const limit of [LIMIT, Math.max(LIMIT, 1_000), 10_000]) {
      const pages = await followAll(`/search?${windowOf(y)}&limit=${limit}`, limit);
      expect(pages.flat()).toEqual(whole);
      expect(pages).toHaveLength(Math.max(1, Math.ceil(count / limit)));
    }
  });

  it('carry the window and limit in the next link, and are ETagged and answered to HEAD alike', async () => {
    const first = `/search?${windowOf(2005)}&limit=${LIMIT}`;
    const got = await api.get(first);
    const link = got.headers.get('link') ?? '';
    const next = new URL(nextOf(link) ?? '', api.base);
    expect(next.pathname).toBe('/search');
    expect(next.searchParams.get('starts_at')).toBe('2005-01-01T00:00:00Z');
    expect(next.searchParams.get('ends_at')).toBe('2005-12-31T23:59:59Z');
    expect(next.searchParams.get('limit')).toBe(String(LIMIT));
    const head = await api.get(first, { method: 'HEAD' });
    for (const name of ['etag', 'link', 'content-length', 'content-type']) {
      expect(head.headers.get(name), name).toBe(got.headers.get(name));
    }
    const etag = got.headers.get('etag') ?? '';
    expect(etag).not.toBe((await api.get(`/search?${windowOf(2005)}`)).headers.get('etag'));
    const again = await api.get(first, { headers: { 'If-None-Match': etag } });
    expect(again.status).toBe(304);
  });

  it('leave the unpaged answer without a Link header', async () => {
    const res = await api.get(`/search?${windowOf(2005)}`);
    expect(res.headers.get('link')).toBeNull();
    expect(res.headers.get('etag')).toMatch(/^"[\w-]+\.\d+\.\d+\.\d+"$/);
  });
});

describe(`cursors (PAGES_SEED=${SEED})`, () => {
  const cursorOf = async (window: string): Promise<string> => {
    const next = (await page(`/search?${window}&limit=${LIMIT}`)).next;
    return new URL(next ?? '', api.base).searchParams.get('cursor') ?? '';
  };
  const refused = async (path: string): Promise<void> => {
    const res = await api.get(path);
    expect(res.status, path).toBe(400);
    expect((await json(res)).error.code).toBe('invalid_parameter');
  };

  it('are refused with one character changed, anywhere, or cut short', async () => {
    const cursor = await cursorOf(windowOf(2005));
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let i = 0; i < cursor.length; i++) {
      const other = alphabet[(alphabet.indexOf(cursor[i] as string) + 1 + pick(63)) % 64];
      const altered = cursor.slice(0, i) + other + cursor.slice(i + 1);
      await refused(`/search?${windowOf(2005)}&limit=${LIMIT}&cursor=${altered}`);
    }
    for (const cut of [1, 2, 10, cursor.length - 1]) {
      await refused(`/search?${windowOf(2005)}&limit=${LIMIT}&cursor=${cursor.slice(0, -cut)}`);
    }
    await refused(`/search?${windowOf(2005)}&limit=${LIMIT}&cursor=${cursor}%3D`);
  });

  it('are refused for another window, and from another store sharing the secret', async () => {
    const cursor = await cursorOf(windowOf(2005));
    await refused(`/search?${windowOf(2004)}&limit=${LIMIT}&cursor=${cursor}`);
    await refused(`/search?starts_at=2005-01-01T00:00:00Z&limit=${LIMIT}&cursor=${cursor}`);
    const other = await startApp({ cursorSecret: SECRET });
    try {
      fill(other.writer, yearOf(2005, 300), 1);
      const res = await other.get(`/search?${windowOf(2005)}&limit=${LIMIT}&cursor=${cursor}`);
      expect(res.status).toBe(400);
    } finally {
      await other.close();
    }
  });

  it('need a limit; limits outside 1–10,000 are refused', async () => {
    const cursor = await cursorOf(windowOf(2005));
    await refused(`/search?${windowOf(2005)}&cursor=${cursor}`);
    for (const limit of ['0', '10001', '-1', '1.5', 'ten', '', '1e3', '%201', '01']) {
      await refused(`/search?limit=${limit}`);
    }
    await refused('/search?limit=1&limit=2');
  });
});

describe(`pages under a concurrent feed (PAGES_SEED=${SEED})`, () => {
  it('never repeat an event, and miss none that stayed unchanged', async () => {
    const running = await startApp({ cursorSecret: SECRET });
    try {
      const base = year(2010);
      const start = (i: number) => iso(base + pick(300) * 60_000 + i * 0);
      let records = Array.from({ length: 300 }, (_, i) => {
        const s = start(i);
        return event(s, iso(Date.parse(`${s}Z`) + 60_000), { title: `v0 #${i}` });
      });
      fill(running.writer, records, 1);
      const untouched = new Set(records.map((r) => r.id));
      const seen: string[] = [];
      let path: string | undefined = '/search?limit=7';
      for (let round = 1; path !== undefined; round++) {
        const res = await running.get(path);
        expect(res.status).toBe(200);
        seen.push(...(await json(res)).data.events.map((e: { id: string }) => e.id));
        path = nextOf(res.headers.get('link'));
        // A feed between pages: some events move (earlier or later), some change in place, some are new.
        records = records.map((r) => {
          const roll = random();
          if (roll > 0.1) return r;
          untouched.delete(r.id);
          const s = roll < 0.05 ? start(0) : iso(r.startsAt);
          return { ...r, ...regenerate(r, s, `v${round}`) };
        });
        const fresh = Array.from({ length: pick(3) }, () => {
          const s = start(0);
          return event(s, iso(Date.parse(`${s}Z`) + 60_000), { title: `new in ${round}` });
        });
        records.push(...fresh);
        fill(running.writer, records, round + 1);
      }
      expect(seen.length).toBe(new Set(seen).size);
      for (const id of untouched) expect(seen).toContain(id);
    } finally {
      await running.close();
    }
  });
});

/** The same event (same id) at start `s` with another title. */
function regenerate(r: EventRecord, s: string, title: string): EventRecord {
  const summary = JSON.parse(r.summary) as Record<string, unknown>;
  const startsAt = Date.parse(`${s}Z`);
  const next = { ...summary, title, start_date: s.slice(0, 10), start_time: s.slice(11, 19) };
  return { id: r.id, startsAt, endsAt: startsAt + 60_000, summary: JSON.stringify(next) };
}
