import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { Context, Next } from 'koa';

// Swagger UI's assets come from the installed package, so /docs works without a network.
const SWAGGER_DIR = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
// A Map, not an object literal: a name such as __proto__ or toString must not find anything.
const ASSETS = new Map([
  ['swagger-ui.css', 'text/css; charset=utf-8'],
  ['swagger-ui-bundle.js', 'application/javascript; charset=utf-8'],
  ['swagger-ui-standalone-preset.js', 'application/javascript; charset=utf-8'],
  ['favicon-32x32.png', 'image/png'],
]);
const ASSET_PREFIX = '/docs/assets/';

// Kept in a file of its own (not inline) so the page works under a strict Content-Security-Policy.
const INITIALIZER = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  persistAuthorization: true,
  validatorUrl: null, // no badge fetched from validator.swagger.io: nothing leaves this origin
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: 'StandaloneLayout',
});
`;

/**
 * The one inline style Swagger UI writes: the <style> of the SVG logo in its top bar
 * (swagger-ui-standalone-preset.js). Allowed by its hash, so no other inline style may run; the
 * browser test (api-tests/docs-browser.spec.ts) fails when an upgrade changes it.
 */
const LOGO_STYLE = '.logo_small_svg__cls-2{fill:#fff}.logo_small_svg__cls-3{fill:#85ea2d}';
const LOGO_STYLE_HASH = `'sha256-${createHash('sha256').update(LOGO_STYLE).digest('base64')}'`;

/**
 * The page's Content-Security-Policy: scripts, styles, fonts and requests from this origin only
 * (Swagger UI keeps pasted tokens in localStorage, so no foreign script may run beside it);
 * `data:` images for the icons Swagger UI's CSS embeds; never framed.
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  `style-src 'self' ${LOGO_STYLE_HASH}`,
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

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
  } else if (ASSETS.has(name)) {
    ctx.type = ASSETS.get(name)!;
    ctx.body = await readFile(path.join(SWAGGER_DIR, name));
  } else {
    return next();
  }
  ctx.set('Cache-Control', 'public, max-age=3600');
}
