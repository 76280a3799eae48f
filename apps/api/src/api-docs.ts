import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { API_ERRORS } from './api-error.js';
import { DEFAULT_CHANGES_LIMIT, MAX_CHANGES_LIMIT, MAX_CHANGES_WAIT_S } from './changes-query.js';
import { MAX_PAGE_LIMIT } from './search-query.js';

/** The documents kept beside the app: ours, and the partner's as it was given. */
export const OPENAPI_FILE = fileURLToPath(new URL('../openapi.yaml', import.meta.url));
export const PARTNER_OPENAPI_FILE = fileURLToPath(
  new URL('../contract/partner-openapi.yaml', import.meta.url),
);

// biome-ignore lint/suspicious/noExplicitAny: an OpenAPI document is navigated by path here
type Document = any;

/** yaml is loaded here, when a document is first read, not with the app: see `createDocs`. */
export async function readOpenApi(file: string): Promise<Document> {
  const { parse } = await import('yaml');
  return parse(readFileSync(file, 'utf8'));
}

/**
 * The served contract (openapi.yaml), with the facts whose home is the code filled in: the error
 * codes of the catalogue, the largest page, the bounds of /changes, and `servers` pointed at this deployment so that
 * "Try it out" in /docs calls it.
 */
export async function servedOpenApi(): Promise<Document> {
  const spec = await readOpenApi(OPENAPI_FILE);
  spec.servers = [{ url: '/', description: 'this Tessera deployment' }];
  spec.components.schemas.ErrorBody.properties.error.properties.code.enum = Object.keys(API_ERRORS);
  spec.components.parameters.Limit.schema.maximum = MAX_PAGE_LIMIT;
  const [, limit, wait] = spec.paths['/changes'].get.parameters;
  limit.schema.maximum = MAX_CHANGES_LIMIT;
  limit.schema.default = DEFAULT_CHANGES_LIMIT;
  wait.schema.maximum = MAX_CHANGES_WAIT_S;
  return spec;
}

async function loadOpenApi(): Promise<Buffer> {
  return Buffer.from(JSON.stringify(await servedOpenApi()));
}

export interface DocsAsset {
  type: string;
  body: Buffer;
}

export interface Docs {
  /** The served contract as JSON bytes. */
  openApi(): Promise<Buffer>;
  /** A page or file of /docs by its name ('' the page itself); undefined: none such. */
  asset(name: string): DocsAsset | undefined;
}

/**
 * The documents an API process serves, each read when first asked for and then kept. Parsing
 * the contract's YAML costs about a fifth of a process's start-up CPU, and Swagger UI's bundle is
 * 1.5 MB: read at boot, they would delay every worker's first /search answer; read here, the
 * first reader of /openapi.json pays for them once. A missing document is an error of that
 * request, answered in the envelope; the contract tests serve both from the built app.
 */
export function createDocs(): Docs {
  let openApi: Promise<Buffer> | undefined;
  let assets: Map<string, DocsAsset> | undefined;
  return {
    openApi() {
      // A failed read is not kept: the next request tries again.
      openApi ??= loadOpenApi().catch((error: unknown) => {
        openApi = undefined;
        throw error;
      });
      return openApi;
    },
    asset(name) {
      assets ??= loadDocsAssets();
      return assets.get(name);
    },
  };
}

/** Swagger UI from the installed swagger-ui-dist package: no CDN, works offline. */
function loadDocsAssets(): Map<string, DocsAsset> {
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
