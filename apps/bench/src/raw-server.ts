import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

/**
 * The ceiling /search is measured against: plain node:http sending the same bytes from memory,
 * with the same number of cluster workers and the same keep-alive, and no work at all.
 * Usage: node raw-server.js <body-file> <port> <workers>
 */
const [file, port, workers] = process.argv.slice(2);
const count = Number(workers ?? 2);
if (cluster.isPrimary && count > 1) {
  for (let i = 0; i < count; i++) cluster.fork();
  process.once('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    process.exit(0);
  });
} else {
  const body = readFileSync(String(file));
  createServer((_req, res) => {
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': body.length,
    });
    res.end(body);
  }).listen(Number(port), '127.0.0.1');
  process.once('SIGTERM', () => process.exit(0));
}
