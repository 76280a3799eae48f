import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

/**
 * The ceiling /search is measured against: plain node:http sending the same bytes from memory,
 * one process, keep-alive, no work at all.
 * Usage: node raw-server.js <body-file> <port>
 */
const [file, port] = process.argv.slice(2);
const body = readFileSync(String(file));
createServer((_req, res) => {
  res.writeHead(200, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': body.length,
  });
  res.end(body);
}).listen(Number(port), '127.0.0.1', () => process.stdout.write('listening\n'));
process.once('SIGTERM', () => process.exit(0));
