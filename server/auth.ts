import { createSecretKey } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import jwt from 'koa-jwt';
import { UNRESTRICTED, type Scope } from '../db/scope.js';
import { HttpProblem } from './problem.js';

export const ROLES = ['rep', 'manager', 'admin', 'service'] as const;
export type Role = (typeof ROLES)[number];

/** What a verified token tells us about the caller; roles come from here and nowhere else. */
export type Principal = { sub: string; email: string | undefined; role: Role };

/** Most verified tokens remembered at once (a token is a few hundred bytes). */
const VERIFIED_TOKENS_MAX = 10_000;
/** A token without `exp` is re-verified at least this often. */
const VERIFIED_TOKEN_TTL_S = 600;

/**
 * Verifies a Bearer token when one is sent (koa-jwt, HS256 only, so `alg: none` and
 * other-key tokens fail) and leaves the verdict on ctx.state. Whether an operation needs
 * it is the spec's call (`security`), enforced by `requirePrincipal`.
 *
 * A token that verified is remembered, by its exact string, until it expires: the same token
 * verifies the same way until then (one secret for the process's life, no revocation list), so
 * repeating HMAC, base64 and JSON work for every request of a client buys nothing. The expiry is
 * checked on every use exactly as jsonwebtoken checks it (`now >= exp` is expired, no clock
 * tolerance), and an expired or unknown token goes through koa-jwt as before. Failures are never
 * remembered.
 */
export function verifyBearer(secret: string): Middleware {
  // A KeyObject made once: from a string jsonwebtoken makes a key per request (docs/benchmarks.md).
  const key = createSecretKey(Buffer.from(secret, 'utf8'));
  const verify = jwt({ secret: key as unknown as string, algorithms: ['HS256'], passthrough: true, key: 'jwtClaims' });
  const verified = new Map<string, { claims: Record<string, unknown>; until: number }>();
  return (ctx, next) => {
    const token = bearerToken(ctx.get('Authorization'));
    if (token === undefined) return verify(ctx, next);
    const now = Math.floor(Date.now() / 1000);
    const known = verified.get(token);
    if (known && now < known.until) {
      ctx.state.jwtClaims = known.claims;
      return next();
    }
    if (known) verified.delete(token);
    return verify(ctx, () => {
      const claims = ctx.state.jwtClaims as Record<string, unknown> | undefined;
      if (claims) {
        if (verified.size >= VERIFIED_TOKENS_MAX) verified.delete(verified.keys().next().value!);
        const until = typeof claims.exp === 'number' ? Math.min(claims.exp, now + VERIFIED_TOKEN_TTL_S) : now + VERIFIED_TOKEN_TTL_S;
        verified.set(token, { claims: Object.freeze(claims), until });
      }
      return next();
    });
  };
}

/** The token of an `Authorization: Bearer <token>` header, read as koa-jwt reads it. */
function bearerToken(header: string): string | undefined {
  if (!header) return undefined;
  const parts = header.trim().split(' ');
  return parts.length === 2 && /^Bearer$/i.test(parts[0]!) ? parts[1] : undefined;
}

/** Who asks for the credentials of a 401: this service's own tokens, Gong's webhook deliveries, or a metrics scraper (METRICS_TOKEN). */
export type Realm = 'call-coach' | 'gong-webhook' | 'metrics';

/** What a 401 says when no credential was sent at all, by realm. */
const SEND_CREDENTIALS: Record<Realm, string> = {
  'call-coach': 'Send a bearer token: Authorization: Bearer <JWT>.',
  'gong-webhook': 'Authenticate the delivery as configured in Gong.',
  metrics: 'Send the metrics token: Authorization: Bearer <METRICS_TOKEN>.',
};

/** Every 401 the service sends: the detail, and the challenge of its realm (RFC 6750). */
export function unauthorized(detail: string, options: { realm?: Realm; error?: 'invalid_token' } = {}): HttpProblem {
  const challenge = `Bearer realm="${options.realm ?? 'call-coach'}"`;
  return new HttpProblem(401, detail, {
    headers: { 'WWW-Authenticate': options.error ? `${challenge}, error="${options.error}"` : challenge },
  });
}

/** The 401 for a request that sent no credential the operation accepts. */
export function credentialsMissing(realm: Realm): HttpProblem {
  return unauthorized(SEND_CREDENTIALS[realm], { realm });
}

/** The caller of a protected operation, or a 401 that says what is wrong with the token. */
export function requirePrincipal(ctx: Context): Principal {
  const claims = ctx.state.jwtClaims as Record<string, unknown> | undefined;
  if (!claims) {
    if (!ctx.get('Authorization')) throw credentialsMissing('call-coach');
    const reason = ctx.state.jwtOriginalError as Error | undefined;
    if (reason?.name === 'TokenExpiredError') throw unauthorized('The bearer token has expired; get a new one.', { error: 'invalid_token' });
    if (reason?.message === 'jwt must be provided') {
      throw unauthorized('The Authorization header must read "Bearer <JWT>".', { error: 'invalid_token' });
    }
    throw unauthorized('The bearer token is malformed or not signed by this service.', { error: 'invalid_token' });
  }
  const { sub, email, role } = claims;
  if (typeof sub !== 'string' || !ROLES.includes(role as Role)) {
    throw unauthorized(`The token must carry a "sub" and a "role" (one of ${ROLES.join(', ')}).`, { error: 'invalid_token' });
  }
  if (role === 'rep' && typeof email !== 'string') {
    throw unauthorized('A rep token must carry the rep\'s "email".', { error: 'invalid_token' });
  }
  return { sub, email: typeof email === 'string' ? email : undefined, role: role as Role };
}

/** The caller, when their role is one of `allowed`; otherwise a 403 that names who may. */
export function requireRole(ctx: Context, allowed: readonly string[]): Principal {
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
