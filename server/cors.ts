import cors from '@koa/cors';
import type { Context, Middleware } from 'koa';

/** What a browser partner may send beyond the CORS-safelisted headers. */
const ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'Idempotency-Key', 'If-Match', 'If-None-Match'];
/**
 * Response headers a browser partner's script may read besides the CORS-safelisted ones: every
 * header the server sends that a client acts on (cors.spec.ts holds this to openapi.yaml's).
 */
export const EXPOSED_HEADERS = [
  'ETag',
  'Location',
  'Retry-After',
  'X-Request-Id',
  'RateLimit',
  'RateLimit-Policy',
  'Idempotent-Replayed',
  'WWW-Authenticate',
  'Allow',
];
const ALLOWED_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];
/** How long a browser may reuse a preflight's answer. */
const PREFLIGHT_MAX_AGE_S = 600;

/**
 * CORS for the origins in CORS_ORIGINS (@koa/cors). A listed origin's preflight is answered here,
 * 204 and before authentication and rate limiting (a browser sends it without credentials, on its
 * own); its other requests get Access-Control-Allow-Origin and the exposed headers, errors
 * included. Any other origin gets no CORS headers, so its browser refuses to hand over the
 * answer, and its preflight falls through to the router (405). No origins listed: no stage.
 * Bearer tokens travel in Authorization, not cookies, so credentials mode is not needed.
 */
export function corsFor(origins: readonly string[]): Middleware {
  if (origins.length === 0) return (_ctx, next) => next();
  const listed = new Set(origins);
  return cors({
    origin: (ctx: Context) => (listed.has(ctx.get('Origin')) ? ctx.get('Origin') : ''),
    allowMethods: ALLOWED_METHODS,
    allowHeaders: ALLOWED_HEADERS,
    exposeHeaders: EXPOSED_HEADERS,
    maxAge: PREFLIGHT_MAX_AGE_S,
  });
}
