import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/**
 * The partner-integration spec (a copy of the contract, kept beside the app), served as JSON,
 * with `servers` pointed at this deployment so that "Try it out" in /docs calls it.
 */
export function loadOpenApi(): Buffer {
  const file = fileURLToPath(new URL('../openapi.yaml', import.meta.url));
  const spec = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  spec.servers = [{ url: '/', description: 'this Tessera deployment' }];
  return Buffer.from(JSON.stringify(spec));
}

export interface DocsAsset {
  type: string;
  body: Buffer;
}

/** Swagger UI from the installed swagger-ui-dist package: no CDN, works offline. */
export function loadDocsAssets(): Map<string, DocsAsset> {
  const require = createRequire(import.meta.url);
  const dir = dirname(require.resolve('swagger-ui-dist/package.json'));
  const asset = (name: string, type: string): DocsAsset => ({
    type,
    body: readFileSync(join(dir, name)),
  });
  const page = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Tessera API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
`;
  const init = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true });\n`;
  return new Map([
    ['', { type: 'text/html; charset=utf-8', body: Buffer.from(page) }],
    ['swagger-ui.css', asset('swagger-ui.css', 'text/css; charset=utf-8')],
    ['swagger-ui-bundle.js', asset('swagger-ui-bundle.js', 'text/javascript; charset=utf-8')],
    ['init.js', { type: 'text/javascript; charset=utf-8', body: Buffer.from(init) }],
  ]);
}
