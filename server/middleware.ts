import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from './logger.js';
import { sendProblem, toProblem } from './problem.js';

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Takes the caller's X-Request-Id when it is sane, else makes one; echoes it on every response. */
export function requestId(ctx: Context, next: Next): Promise<void> {
  const given = ctx.get('X-Request-Id');
  ctx.state.requestId = SANE_REQUEST_ID.test(given) ? given : randomUUID();
  // ctx.res.setHeader, not ctx.set: Koa 3's set builds three arrays per call, and these run on every request.
  ctx.res.setHeader('X-Request-Id', ctx.state.requestId as string);
  return next();
}

/**
 * One log line per request, with a child logger on ctx.state for anything logged in between.
 * The child is made on first use, and the line only when `info` is on: at `warn` (production)
 * a successful request costs no logging work at all.
 */
export function requestLogger(logger: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const started = performance.now();
    let child: Logger | undefined;
    Object.defineProperty(ctx.state, 'log', {
      get: () => (child ??= logger.child({ request_id: ctx.state.requestId })),
      configurable: true,
      enumerable: true,
    });
    try {
      await next();
    } finally {
      if (logger.isLevelEnabled('info')) {
        (ctx.state.log as Logger).info(
          { method: ctx.method, path: ctx.path, status: ctx.status, ip: ctx.ip, ms: Math.round(performance.now() - started) },
          'request',
        );
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
export async function problemErrors(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
  } catch (error) {
    const problem = toProblem(error);
    if (problem.status >= 500) ctx.state.log?.error({ err: error }, 'request failed');
    sendProblem(ctx, problem);
  }
}
