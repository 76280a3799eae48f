import { readFileSync } from 'node:fs';
import Router from '@koa/router';
import Koa from 'koa';

/**
 * The framework's floor: a minimal Koa + @koa/router app sending the same bytes from memory, one
 * process. What Koa itself costs per request; Tessera's /search is measured against it.
 *
 * With a headers file (a JSON list of [name, value] pairs taken from Tessera's own answer), the
 * floor sends the same head as well as the same body, a request id from a counter included as
 * Tessera makes one: what Koa costs to send exactly Tessera's answer, so that the cost of the
 * answer's headers is told apart from the cost of Tessera's own work.
 * Usage: node koa-floor.js <body-file> <port> [route, default /search] [headers-file]
 */
const [file, port, route = '/search', headersFile] = process.argv.slice(2);
const body = readFileSync(String(file));
const headers: Array<[string, string]> =
  headersFile === undefined ? [] : JSON.parse(readFileSync(headersFile, 'utf8'));
const app = new Koa();
const router = new Router();
let requests = 0;
router.get(route, (ctx) => {
  for (const [name, value] of headers) ctx.set(name, value);
  if (headersFile !== undefined) ctx.set('X-Request-Id', `floor-${(++requests).toString(36)}`);
  ctx.type = 'application/json; charset=utf-8';
  ctx.body = body;
});
app.use(router.routes());
app.listen(Number(port), '127.0.0.1', () => process.stdout.write('listening\n'));
process.once('SIGTERM', () => process.exit(0));
