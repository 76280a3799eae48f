import { spawn } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { generateFeed } from '@tessera/simulator';
import { openStoreReader, openStoreWriter } from '@tessera/store';
import { type Nginx, readWholeDocument, startApp, startNginx } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The partner is a web server the project did not write: Debian's nginx, serving the same feed
 * files every way a real server does. The plain answer must store what plain sax reads from the
 * whole file (no splitter, condenser, workers or HTTP), and every other cell exactly what the
 * plain answer stores (the same state digest and count); the fault cells must be recorded under
 * their codes.
 */
const FEED = Buffer.concat([
  ...generateFeed({ bases: 2_500, eventsPerBase: 2, zonesPerEvent: 12, onlineRatio: 0.9, seed: 5 }),
]);
const GZIP_TYPES = 'gzip_types application/xml; gzip_min_length 0; gzip_proxied any;';
const CELLS = {
  plain: '',
  close: 'keepalive_timeout 0;',
  'gz-static': 'gzip_static on;',
  'gz-static-close': 'gzip_static on; keepalive_timeout 0;',
  'gz-fly': `gzip on; ${GZIP_TYPES}`,
  'gz-fly-close': `gzip on; ${GZIP_TYPES} keepalive_timeout 0;`,
  // sub_filter drops the length: an identity body in chunks.
  chunked: "sub_filter_types application/xml; sub_filter 'NEVER-MATCHES' 'x';",
  slow: 'limit_rate 1m; keepalive_timeout 0;',
  'slow-gz': `gzip on; ${GZIP_TYPES} limit_rate 64k;`,
  limited: 'limit_req zone=partner nodelay; limit_req_status 429; add_header Retry-After 7 always;',
} as const;

const ENCODED: Record<string, { bytes: Buffer; title: string }> = {
  'latin1.xml': {
    bytes: Buffer.from(doc('ISO-8859-1', 'Shów en Cádiz'), 'latin1'),
    title: 'Shów en Cádiz',
  },
  'cp1252.xml': {
    bytes: Buffer.concat([
      Buffer.from(doc('windows-1252', 'Precio 20 X').split('X')[0]!, 'latin1'),
      Buffer.from([0x80]),
      Buffer.from(doc('windows-1252', 'Precio 20 X').split('X')[1]!, 'latin1'),
    ]),
    title: 'Precio 20 €',
  },
  'utf8-bom.xml': {
    bytes: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(doc('UTF-8', 'Ñandú'))]),
    title: 'Ñandú',
  },
  'utf16.xml': {
    bytes: Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from(doc('UTF-16', 'Ópera'), 'utf16le'),
    ]),
    title: 'Ópera',
  },
};

function doc(encoding: string, title: string): string {
  return `<?xml version="1.0" encoding="${encoding}"?>
<planList version="1.0"><output>
<base_plan base_plan_id="1" sell_mode="online" title="${title}">
<plan plan_start_date="2021-06-30T21:00:00" plan_end_date="2021-06-30T22:00:00" plan_id="1" sell_from="2020-07-01T00:00:00" sell_to="2021-06-30T20:00:00" sold_out="false">
<zone zone_id="1" capacity="10" price="20.00" name="A" numbered="true"/>
</plan></base_plan></output></planList>`;
}

let http: Nginx;
let https: Nginx;
const dirs: string[] = [];

interface Ingested {
  code: number | null;
  report: {
    outcome: string;
    error: { code: string; message: string } | null;
    retryAfterMs?: number;
  };
  digest: string | null;
  count: number;
  titles: string[];
  log: string;
}

/** The digest and count of a store holding what plain sax reads from the whole feed. */
async function referenceOf(body: Buffer): Promise<{ digest: string | null; count: number }> {
  const reading = readWholeDocument(body.toString('utf8'), {
    provider: 'feverup',
    timeZone: 'UTC',
  });
  if (reading === 'refused') throw new Error('the generated feed is not well-formed');
  const dir = mkdtempSync(join(tmpdir(), 'tessera-reference.'));
  dirs.push(dir);
  const store = openStoreWriter({ path: dir });
  try {
    store.applyFeed('test', reading.records, {
      at: 0,
      validators: { urlDigest: null, etag: null, lastModified: null, hash: null },
    });
    return { digest: store.digest(), count: store.count() };
  } finally {
    await store.close();
  }
}

async function ingest(url: string, env: Record<string, string> = {}): Promise<Ingested> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-real-server.'));
  dirs.push(dataDir);
  const run = startApp(
    'ingestor',
    { DATA_DIR: dataDir, PROVIDER_URL: url, INGEST_NICE: '0', LOG_LEVEL: 'warn', ...env },
    ['--once', '--json'],
  );
  const code = await run.exited;
  const output = run.output();
  const line = output.split('\n').find((l) => l.startsWith('{"outcome"')) ?? '{}';
  const store = openStoreReader({ path: dataDir });
  try {
    const titles = [...store.scan({ startsAt: null, endsAt: null })].map(
      (b) => (JSON.parse(b.toString('utf8')) as { title: string }).title,
    );
    return {
      code,
      report: JSON.parse(line),
      digest: store.digest(),
      count: store.count(),
      titles,
      log: output,
    };
  } finally {
    await store.close();
  }
}

beforeAll(async () => {
  http = await startNginx({
    http: 'limit_req_zone $binary_remote_addr zone=partner:1m rate=1r/m;',
    server: [
      ...Object.entries(CELLS).map(([name, directives]) => `location /${name}/ { ${directives} }`),
      'location = /moved/feed.xml { return 301 /plain/feed.xml; }',
      'location = /moved-308/feed.xml { return 308 /gz-static-close/feed.xml; }',
      'location = /found/feed.xml { return 302 /gz-fly/feed.xml; }',
      'location = /loop/feed.xml { return 302 /loop/feed.xml; }',
    ].join('\n    '),
  });
  for (const name of Object.keys(CELLS)) mkdirSync(join(http.root, name));
  writeFileSync(join(http.root, 'plain', 'feed.xml'), FEED);
  writeFileSync(join(http.root, 'plain', 'feed.xml.gz'), gzipSync(FEED));
  for (const name of Object.keys(CELLS)) {
    if (name === 'plain') continue;
    linkSync(join(http.root, 'plain', 'feed.xml'), join(http.root, name, 'feed.xml'));
    linkSync(join(http.root, 'plain', 'feed.xml.gz'), join(http.root, name, 'feed.xml.gz'));
  }
  mkdirSync(join(http.root, 'enc'));
  for (const [file, { bytes }] of Object.entries(ENCODED))
    writeFileSync(join(http.root, 'enc', file), bytes);
  writeFileSync(join(http.root, 'enc', 'koi8.xml'), doc('KOI8-R', 'x'));

  https = await startNginx({
    tls: true,
    server: [
      'location /tls/ { gzip_static on; keepalive_timeout 0; }',
      `location = /down/feed.xml { return 301 ${http.origin}/plain/feed.xml; }`,
    ].join('\n    '),
  });
  mkdirSync(join(https.root, 'tls'));
  writeFileSync(join(https.root, 'tls', 'feed.xml'), FEED);
  writeFileSync(join(https.root, 'tls', 'feed.xml.gz'), gzipSync(FEED));
}, 60_000);

afterAll(async () => {
  await http?.stop();
  await https?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('a real web server as the partner (nginx)', () => {
  let plain: Ingested;
  beforeAll(async () => {
    plain = await ingest(`${http.origin}/plain/feed.xml`);
    expect(plain.code, plain.log).toBe(0);
    expect(plain.count).toBeGreaterThan(4_000);
  }, 60_000);

  it('plain: stores what plain sax reads from the whole file', async () => {
    expect({ digest: plain.digest, count: plain.count }).toEqual(await referenceOf(FEED));
  });

  it.each(Object.keys(CELLS).filter((c) => c !== 'plain' && c !== 'limited'))(
    '%s: stores exactly what the plain answer stores',
    async (cell) => {
      const got = await ingest(`${http.origin}/${cell}/feed.xml`);
      expect(got.code, got.log).toBe(0);
      expect({ digest: got.digest, count: got.count }).toEqual({
        digest: plain.digest,
        count: plain.count,
      });
    },
  );

  it('a gzipped feed on a connection the server closes (gzip_static, keepalive_timeout 0) neither crashes nor loses a byte', async () => {
    const got = await ingest(`${http.origin}/gz-static-close/feed.xml`);
    expect(got.log).not.toMatch(/AssertionError/);
    expect(got.code, got.log).toBe(0);
    expect(got.digest).toBe(plain.digest);
  });

  it('an HTTP/1.0 answer with no length, delimited by the connection closing (Python sockets)', async () => {
    // Python's standard library, not our code: one answer, no Content-Length, then close.
    const script = [
      'import socket, sys',
      's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)',
      'print(s.getsockname()[1], flush=True)',
      'c, _ = s.accept(); c.recv(65536)',
      'c.sendall(b"HTTP/1.0 200 OK\\r\\nContent-Type: application/xml\\r\\n\\r\\n")',
      'c.sendall(open(sys.argv[1], "rb").read()); c.close()',
    ].join('\n');
    const server = spawn('python3', ['-c', script, join(http.root, 'plain', 'feed.xml')]);
    const port = await new Promise<string>((resolve) =>
      server.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())),
    );
    try {
      const got = await ingest(`http://127.0.0.1:${port}/feed.xml`);
      expect(got.code, got.log).toBe(0);
      expect(got.digest).toBe(plain.digest);
    } finally {
      server.kill();
    }
  });

  it('TLS with a throwaway CA (NODE_EXTRA_CA_CERTS), gzipped and closed', async () => {
    const got = await ingest(`${https.origin}/tls/feed.xml`, {
      NODE_EXTRA_CA_CERTS: https.caFile!,
    });
    expect(got.code, got.log).toBe(0);
    expect(got.digest).toBe(plain.digest);
    const untrusted = await ingest(`${https.origin}/tls/feed.xml`);
    expect(untrusted.report.error?.code).toBe('provider_unreachable');
  });

  it('follows 301, 302 and 308 to the same content; a permanent one is logged with the new address', async () => {
    for (const path of ['moved', 'moved-308', 'found']) {
      const got = await ingest(`${http.origin}/${path}/feed.xml`);
      expect(got.code, got.log).toBe(0);
      expect(got.digest).toBe(plain.digest);
      const warned = /the feed moved permanently/.test(got.log);
      expect(warned).toBe(path !== 'found');
    }
    expect((await ingest(`${http.origin}/moved/feed.xml`)).log).toContain(
      `${http.origin}/plain/feed.xml`,
    );
  });

  it('refuses a redirect loop and a redirect from https to http', async () => {
    const loop = await ingest(`${http.origin}/loop/feed.xml?token=s3cret`);
    expect(loop.report.error).toMatchObject({
      code: 'provider_status',
      message: expect.stringMatching(/more than 5 redirects from .*\?token=…/),
    });
    // The message lands in the log, the store and /feeds: the URL's secret stays out of all.
    expect(loop.log).not.toContain('s3cret');
    expect(loop.report.error?.message).not.toContain('s3cret');
    const down = await ingest(`${https.origin}/down/feed.xml`, {
      NODE_EXTRA_CA_CERTS: https.caFile!,
    });
    expect(down.report.error).toMatchObject({
      code: 'provider_status',
      message: expect.stringMatching(/https to http/),
    });
    expect(down.count).toBe(0);
  });

  it('limit_req answering 429 with Retry-After is recorded as provider_rate_limited', async () => {
    await ingest(`${http.origin}/limited/feed.xml`); // takes the one request a minute allows
    const got = await ingest(`${http.origin}/limited/feed.xml`);
    expect(got.code).toBe(1);
    expect(got.report.error?.code).toBe('provider_rate_limited');
    expect(got.report.retryAfterMs).toBe(7_000);
  });

  it.each(Object.keys(ENCODED))('%s: decoded, stored as UTF-8', async (file) => {
    const got = await ingest(`${http.origin}/enc/${file}`);
    expect(got.code, got.log).toBe(0);
    expect(got.titles).toEqual([ENCODED[file]!.title]);
  });

  it('an encoding it does not read is unsupported_encoding, naming it', async () => {
    const got = await ingest(`${http.origin}/enc/koi8.xml`);
    expect(got.report.error).toMatchObject({
      code: 'unsupported_encoding',
      message: expect.stringMatching(/koi8-r/),
    });
  });
});
