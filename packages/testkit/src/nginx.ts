import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { waitUntil } from './wait.js';

/** Debian's nginx: a partner's web server that this project did not write. */
export interface Nginx {
  /** `http://127.0.0.1:<port>` (or https with `tls`). */
  readonly origin: string;
  /** The directory it serves files from. */
  readonly root: string;
  /** The PEM of the throwaway CA that signed its certificate (`tls` only). */
  readonly caFile: string | undefined;
  stop(): Promise<void>;
}

export interface NginxOptions {
  /** Directives inside `server {}` (locations, gzip, limit_rate…), after listen and root. */
  server: string;
  /** Directives inside `http {}`, before the server (limit_req_zone…). */
  http?: string;
  /** Serve https with a certificate for 127.0.0.1 signed by a throwaway CA (openssl). */
  tls?: boolean;
}

/** Makes a CA and a server certificate for 127.0.0.1 in `dir`; returns their paths. */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=Tessera test CA',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
  ]);
  run([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
  ]);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  run([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    'san.ext',
    '-out',
    'server.pem',
  ]);
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
}

/**
 * Starts nginx in the foreground on a free loopback port, with a configuration of its own in a
 * temp directory (its own pid file, logs and temp paths: nothing of the system's nginx is used).
 */
export async function startNginx(options: NginxOptions): Promise<Nginx> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-nginx.'));
  const root = join(dir, 'www');
  mkdirSync(root);
  mkdirSync(join(dir, 'logs'));
  const port = await freePort();
  const certs = options.tls ? makeCertificates(dir) : undefined;
  const listen = certs
    ? `listen 127.0.0.1:${port} ssl;\n    ssl_certificate ${certs.cert};\n    ssl_certificate_key ${certs.key};`
    : `listen 127.0.0.1:${port};`;
  // As root, workers would switch to nobody, who cannot read a 0700 temp directory.
  const user = process.getuid?.() === 0 ? 'user root;' : '';
  writeFileSync(
    join(dir, 'nginx.conf'),
    `${user}
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  types { application/xml xml; text/plain txt; }
  default_type application/octet-stream;
  ${options.http ?? ''}
  server {
    ${listen}
    root ${root};
    ${options.server}
  }
}
`,
  );
  const child = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const origin = `${certs ? 'https' : 'http'}://127.0.0.1:${port}`;
  await waitUntil(
    async () => {
      if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
      const { connect } = await import('node:net');
      return new Promise<boolean>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.destroy();
          resolve(true);
        });
        socket.on('error', () => resolve(false));
      });
    },
    { what: `nginx on ${port}`, timeoutMs: 10_000 },
  );
  return {
    origin,
    root,
    caFile: certs?.ca,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
