import { readFileSync } from 'node:fs';
import Router from '@koa/router';
import Koa from 'koa';

/**
 * The framework's floor: a minimal Koa + @koa/router app sending the same bytes from memory, one
 * process. What Koa itself costs per request; Tessera's /search is measured against it.
 * Usage: node koa-floor.js <body-file> <port> [route, default /search]
 */
const [file, port, route = '/search'] = process.argv.slice(2);
const body = readFileSync(String(file));
const app = new Koa();
const router = new Router();
router.get(route, (ctx) => {
  ctx.type = 'application/json; charset=utf-8';
  ctx.body = body;
});
app.use(router.routes());
app.listen(Number(port), '127.0.0.1', () => process.stdout.write('listening\n'));
process.once('SIGTERM', () => process.exit(0));
