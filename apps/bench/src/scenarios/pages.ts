import { request } from 'node:http';
import { openStoreWriter } from '@tessera/store';
import { seedStore } from '@tessera/testkit';
import type { BenchContext } from '../bench-context.js';
import { measureThroughput, type Throughput } from '../load.js';
import {
  LOAD_CORE,
  measureInRounds,
  medianRun,
  type PairedRatio,
  pairedRatio,
  SERVER_CORE,
  saveAnswer,
  startReference,
} from '../paired-rounds.js';
import { median } from '../percentile.js';

const PAGE = 100;
const SAMPLES = 30;
/** /events/{id} and its floors are measured in this many rounds (see measureInRounds). */
const EVENT_ROUNDS = 4;

/** Time to first byte and to the first 100 events, medians over sequential requests. */
export interface FirstEvents {
  ttfbMs: number;
  first100Ms: number;
}

export interface PagesResult {
  events: number;
  /** `?limit=100`: the first page, read whole. */
  page: FirstEvents;
  /** No parameters: the same 100 events are the answer's first, read until they are in. */
  unpaged: FirstEvents;
  /** Closed-loop req/s, 50 connections: the first page (cached after one), a later page. */
  pageThroughput: Throughput;
  cursorPageThroughput: Throughput;
  /** /events/{id}, the median of EVENT_ROUNDS rounds beside its floors. */
  eventThroughput: Throughput;
  /** The Koa floor sending the same event's bytes from memory. */
  eventKoaFloor: Throughput;
  /** The same floor sending Tessera's head too (see koa-floor.ts); absent in reports before. */
  eventKoaSameAnswer?: Throughput;
  /** /events/{id}'s req/s over the Koa floor's: the median of the rounds' own ratios. */
  eventOfKoa: number;
  /** Absent in reports before the rounds: one run of each. */
  eventPaired?: { rounds: number; ofKoa: PairedRatio; ofKoaSameAnswer: PairedRatio };
}

/**
 * What a page costs against the unpaged answer over a large store (1M events by default: the
 * unpaged answer is hundreds of MB), and /events/{id} against the Koa floor. One API process
 * pinned to one core, the load generator on the other.
 */
export async function runPages(ctx: BenchContext, events: number): Promise<PagesResult> {
  const dir = ctx.dir('pages');
  ctx.log(`pages: seeding ${events} events`);
  const writer = openStoreWriter({ path: dir });
  seedStore(writer, events);
  await writer.close();
  const { api, base } = await ctx.startApi(
    dir,
    { API_WORKERS: '1' },
    { wrapper: ['taskset', '-c', SERVER_CORE] },
  );
  try {
    const page = await firstEvents(`${base}/search?limit=${PAGE}`);
    const unpaged = await firstEvents(`${base}/search`);
    const first = await fetch(`${base}/search?limit=${PAGE}`);
    const next = /^<([^>]+)>/.exec(first.headers.get('link') ?? '')?.[1] ?? '';
    const id = ((await first.json()) as { data: { events: Array<{ id: string }> } }).data.events[0]
      ?.id;
    const seconds = Math.max(2, Math.round(ctx.config.BENCH_SECONDS / 3));
    const load = (url: string) => measureThroughput(url, seconds, 50, LOAD_CORE);
    const pageThroughput = await load(`${base}/search?limit=${PAGE}`);
    const cursorPageThroughput = await load(`${base}${next}`);
    const event = await measureEvent(ctx, { base, pid: api.child.pid! }, `/events/${id}`);
    ctx.command(
      `taskset -c ${LOAD_CORE} wrk -t1 -c50 -d${seconds}s 'http://127.0.0.1:PORT/search?limit=${PAGE}'  # and a later page; the API at taskset -c ${SERVER_CORE}, API_WORKERS=1, ${events} events`,
    );
    ctx.command(
      `taskset -c ${LOAD_CORE} wrk -t1 -c50 -d${event.seconds}s 'http://127.0.0.1:PORT/events/ID'  # × ${EVENT_ROUNDS} rounds, each of tessera, koa, koaSameAnswer in turn (order alternating), all at taskset -c ${SERVER_CORE}`,
    );
    return { events, page, unpaged, pageThroughput, cursorPageThroughput, ...event.result };
  } finally {
    await api.stop();
  }
}

type EventServer = 'tessera' | 'koa' | 'koaSameAnswer';
type EventResult = Pick<
  PagesResult,
  'eventThroughput' | 'eventKoaFloor' | 'eventKoaSameAnswer' | 'eventOfKoa' | 'eventPaired'
>;

/**
 * /events/{id} beside the Koa floor sending the same event's bytes, and beside the floor sending
 * Tessera's head too, in rounds: what the framework costs, and what the answer's head costs.
 */
async function measureEvent(
  ctx: BenchContext,
  api: { base: string; pid: number },
  path: string,
): Promise<{ seconds: number; result: EventResult }> {
  const { bodyFile, headFile } = await saveAnswer(
    await fetch(`${api.base}${path}`),
    ctx.dir('pages-floor'),
  );
  const koa = await startReference('koa-floor.js', [bodyFile, '', path]);
  const koaSameAnswer = await startReference('koa-floor.js', [bodyFile, '', path, headFile]);
  const seconds = Math.max(2, Math.round(ctx.config.BENCH_SECONDS / EVENT_ROUNDS));
  try {
    const measured = await measureInRounds<EventServer>(
      { tessera: { ...api, stop: async () => {} }, koa, koaSameAnswer },
      path,
      { rounds: EVENT_ROUNDS, seconds, connections: 50 },
    );
    const ofKoa = pairedRatio(measured.tessera, measured.koa);
    return {
      seconds,
      result: {
        eventThroughput: medianRun(measured.tessera),
        eventKoaFloor: medianRun(measured.koa),
        eventKoaSameAnswer: medianRun(measured.koaSameAnswer),
        eventOfKoa: ofKoa.requestsPerSecond,
        eventPaired: {
          rounds: EVENT_ROUNDS,
          ofKoa,
          ofKoaSameAnswer: pairedRatio(measured.tessera, measured.koaSameAnswer),
        },
      },
    };
  } finally {
    await Promise.all([koa.stop(), koaSameAnswer.stop()]);
  }
}

/** Medians over SAMPLES sequential requests (after one not counted, which fills the cache). */
async function firstEvents(url: string): Promise<FirstEvents> {
  await timeFirstEvents(url);
  const ttfb: number[] = [];
  const first100: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t = await timeFirstEvents(url);
    ttfb.push(t.ttfbMs);
    first100.push(t.first100Ms);
  }
  return { ttfbMs: median(ttfb), first100Ms: median(first100) };
}

/**
 * One request, read until the first PAGE events are in (or the body ends), then hung up: what a
 * client that wants the first 100 events waits for, with or without `limit`.
 */
function timeFirstEvents(url: string): Promise<FirstEvents> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let ttfbMs = 0;
    const req = request(url, { agent: false }, (res) => {
      let seen = 0;
      let tail = '';
      const done = () => {
        resolve({ ttfbMs, first100Ms: performance.now() - started });
        res.destroy();
      };
      res.on('data', (chunk: Buffer) => {
        if (ttfbMs === 0) ttfbMs = performance.now() - started;
        // Every summary opens with `{"id":` (6 bytes); a chunk may split one, so the last 5
        // bytes are carried over (too short to hold a whole one, counted twice).
        const text = tail + chunk.toString('latin1');
        seen += text.split('{"id":').length - 1;
        tail = text.slice(-5);
        // The 101st event begun: the first 100 are whole.
        if (seen > PAGE) done();
      });
      res.on('end', done);
      res.on('error', () => {});
    });
    req.on('error', reject);
    req.end();
  });
}
