import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from './logger.js';
import { sendProblem, toProblem } from './problem.js';

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Takes the caller's X-Request-Id when it is sane, else makes one; echoes it on every response. */
export function requestId(ctx: Context, next: Next): Promise<void> {
  const given = ctx.req.headers['x-request-id'];
  ctx.state.requestId = typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
  // ctx.res.setHeader, not ctx.set: Koa 3's set builds three arrays per call, and these run on every request.
  ctx.res.setHeader('X-Request-Id', ctx.state.requestId as string);
  return next();
}

/**
 * Times each request once, for its metrics series (`record`) and, when `info` is on, its log
 * line: at `warn` (production) a successful request costs no logging work at all. The line
 * carries the request id as a field: a per-request accessor or child logger on ctx.state made
 * V8 keep new shapes per request (twice the promotion; docs/benchmarks.md, fifth round).
 */
export function observeRequests(logger: Logger, record: (ctx: Context, seconds: number) => void) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const started = performance.now();
    try {
      await next();
    } finally {
      const ms = performance.now() - started;
      record(ctx, ms / 1000);
      if (logger.isLevelEnabled('info')) {
        logger.info({ request_id: ctx.state.requestId, method: ctx.method, path: ctx.path, status: ctx.status, ip: ctx.ip, ms: Math.round(ms) }, 'request');
      }
    }
  };
}

const SECURITY_HEADERS = [
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'DENY'],
  ['Referrer-Policy', 'no-referrer'],
  ['Cross-Origin-Resource-Policy', 'same-origin'],
] as const;

/** Conservative defaults: this service serves JSON, plus one documentation page. */
export function securityHeaders(ctx: Context, next: Next): Promise<void> {
  for (const [name, value] of SECURITY_HEADERS) ctx.res.setHeader(name, value);
  // Nothing is cached unless its handler says otherwise (the docs assets replace this).
  ctx.res.setHeader('Cache-Control', 'no-store');
  return next();
}

/** Everything thrown below becomes one application/problem+json answer; 5xx are logged in full. */
export function problemErrors(logger: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
    } catch (error) {
      const problem = toProblem(error);
      if (problem.status >= 500) logger.error({ request_id: ctx.state.requestId, err: error }, 'request failed');
      sendProblem(ctx, problem);
    }
  };
}
