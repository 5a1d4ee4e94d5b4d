import type { Context, Middleware } from 'koa';
import jwt from 'koa-jwt';
import { UNRESTRICTED, type Scope } from '../db/scope.js';
import { HttpProblem } from './problem.js';

export const ROLES = ['rep', 'manager', 'admin', 'service'] as const;
export type Role = (typeof ROLES)[number];

/** What a verified token tells us about the caller; roles come from here and nowhere else. */
export type Principal = { sub: string; email: string | undefined; role: Role };

/**
 * Verifies a Bearer token when one is sent (koa-jwt, HS256 only, so `alg: none` and
 * other-key tokens fail) and leaves the verdict on ctx.state. Whether an operation needs
 * it is the spec's call (`security`), enforced by `requirePrincipal`.
 */
export function verifyBearer(secret: string): Middleware {
  return jwt({ secret, algorithms: ['HS256'], passthrough: true, key: 'jwtClaims' });
}

const CHALLENGE = 'Bearer realm="call-coach"';

function unauthorized(detail: string, error?: 'invalid_token'): HttpProblem {
  return new HttpProblem(401, detail, {
    headers: { 'WWW-Authenticate': error ? `${CHALLENGE}, error="${error}"` : CHALLENGE },
  });
}

/** The caller of a protected operation, or a 401 that says what is wrong with the token. */
export function requirePrincipal(ctx: Context): Principal {
  const claims = ctx.state.jwtClaims as Record<string, unknown> | undefined;
  if (!claims) {
    if (!ctx.get('Authorization')) throw unauthorized('Send a bearer token: Authorization: Bearer <JWT>.');
    const reason = ctx.state.jwtOriginalError as Error | undefined;
    if (reason?.name === 'TokenExpiredError') throw unauthorized('The bearer token has expired; get a new one.', 'invalid_token');
    if (reason?.message === 'jwt must be provided') {
      throw unauthorized('The Authorization header must read "Bearer <JWT>".', 'invalid_token');
    }
    throw unauthorized('The bearer token is malformed or not signed by this service.', 'invalid_token');
  }
  const { sub, email, role } = claims;
  if (typeof sub !== 'string' || !ROLES.includes(role as Role)) {
    throw unauthorized(`The token must carry a "sub" and a "role" (one of ${ROLES.join(', ')}).`, 'invalid_token');
  }
  if (role === 'rep' && typeof email !== 'string') {
    throw unauthorized('A rep token must carry the rep\'s "email".', 'invalid_token');
  }
  return { sub, email: typeof email === 'string' ? email : undefined, role: role as Role };
}

/** Roles that may change data (ingestion and administration). */
export const WRITERS: readonly Role[] = ['admin', 'service'];
export const ADMINS: readonly Role[] = ['admin'];

/** The caller, when their role is one of `allowed`; otherwise a 403 that names who may. */
export function requireRole(ctx: Context, allowed: readonly Role[]): Principal {
  const principal = ctx.state.principal as Principal;
  if (!allowed.includes(principal.role)) {
    throw new HttpProblem(403, `The ${principal.role} role cannot do this; it needs one of: ${allowed.join(', ')}.`);
  }
  return principal;
}

/** What the caller may read: a `rep` only calls they spoke on, everyone else everything. */
export function scopeOf(ctx: Context): Scope {
  const principal = ctx.state.principal as Principal;
  return principal.role === 'rep' ? { repEmail: principal.email! } : UNRESTRICTED;
}
