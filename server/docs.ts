import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { Context, Next } from 'koa';

// Swagger UI's assets come from the installed package, so /docs works without a network.
const SWAGGER_DIR = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'application/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};
const ASSET_PREFIX = '/docs/assets/';

// Kept in a file of its own (not inline) so the page works under a strict Content-Security-Policy.
const INITIALIZER = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  persistAuthorization: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: 'StandaloneLayout',
});
`;

export const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Call Coach API</title>
  <link rel="stylesheet" href="${ASSET_PREFIX}swagger-ui.css">
  <link rel="icon" type="image/png" href="${ASSET_PREFIX}favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="${ASSET_PREFIX}swagger-ui-bundle.js"></script>
  <script src="${ASSET_PREFIX}swagger-ui-standalone-preset.js"></script>
  <script src="${ASSET_PREFIX}init.js"></script>
</body>
</html>
`;

/** Serves Swagger UI's static files under /docs/assets/; the page itself is an operation. */
export async function serveDocsAssets(ctx: Context, next: Next): Promise<void> {
  if (!ctx.path.startsWith(ASSET_PREFIX) || !['GET', 'HEAD'].includes(ctx.method)) return next();
  const name = ctx.path.slice(ASSET_PREFIX.length);
  if (name === 'init.js') {
    ctx.type = 'application/javascript; charset=utf-8';
    ctx.body = INITIALIZER;
  } else if (ASSETS[name]) {
    ctx.type = ASSETS[name];
    ctx.body = await readFile(path.join(SWAGGER_DIR, name));
  } else {
    return next();
  }
  ctx.set('Cache-Control', 'public, max-age=3600');
}
