import { createSecretKey } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import { createRemoteJWKSet, errors, jwtVerify } from 'jose';
import jwt from 'koa-jwt';
import { UNRESTRICTED, type Scope } from '../db/scope.js';
import type { Config } from './config.js';
import { HttpProblem } from './problem.js';
import { headerCount } from './raw-headers.js';

export const ROLES = ['rep', 'manager', 'admin', 'service'] as const;
export type Role = (typeof ROLES)[number];

/** What a verified token tells us about the caller; roles come from here and nowhere else. */
export type Principal = { sub: string; email: string | undefined; role: Role };

/** Most verified tokens remembered at once (a token is a few hundred bytes). */
const VERIFIED_TOKENS_MAX = 10_000;
/** A verified token is re-verified at least this often (a JWKS key may have been withdrawn). */
const VERIFIED_TOKEN_TTL_S = 600;
/** How far in the future `iat` may lie: clock skew between the issuer and this service. */
export const CLOCK_SKEW_S = 60;

type Claims = Record<string, unknown>;
/** Checks a token's signature (and iss/aud when configured); resolves its claims or throws why not. */
type SignatureCheck = (ctx: Context, token: string) => Promise<Claims>;

/** A token that verified but that this service refuses, with the reason the 401 gives. */
export class TokenRefused extends Error {
  override name = 'TokenRefused';
}

/**
 * Verifies a Bearer token when one is sent and leaves the verdict on ctx.state (jwtClaims, or
 * jwtOriginalError). Whether an operation needs it is the spec's call (`security`), enforced by
 * `requirePrincipal`.
 *
 * Two modes, chosen at start. Without JWT_JWKS_URL: HS256 with JWT_SECRET through koa-jwt (the
 * zero-setup default; `alg: none` and other-key tokens fail). With it: RS256/ES256 through jose
 * against the key set (koa-jwt has no key-set support of its own; jose's remote key set caches,
 * refetches on an unknown `kid` at most once per cooldown, and so follows a rotation without a
 * restart), and HS256 is refused. Either way the lifetime rules of `lifetimeRefusal` apply.
 *
 * A token that verified is remembered, by its exact string, until it expires (at most
 * VERIFIED_TOKEN_TTL_S): repeating the signature, base64 and JSON work for every request of a
 * client buys nothing. The expiry is checked on every use (`now >= exp` is expired, no clock
 * tolerance). Failures are never remembered.
 */
export function verifyBearer(config: Pick<Config, 'jwtSecret' | 'jwt'>): Middleware {
  const check = config.jwt.jwksUrl ? keySetCheck(config.jwt) : secretCheck(config.jwtSecret, config.jwt);
  const verified = new Map<string, { claims: Claims; until: number }>();
  /** A token not (or no longer) remembered: its signature and lifetime checked, the verdict left on ctx.state. */
  const verify = async (ctx: Context, token: string, now: number): Promise<void> => {
    try {
      const claims = await check(ctx, token);
      const refusal = lifetimeRefusal(claims, now, config.jwt.maxTtlSeconds);
      if (refusal) throw new TokenRefused(refusal);
      if (verified.size >= VERIFIED_TOKENS_MAX) verified.delete(verified.keys().next().value!);
      verified.set(token, { claims: Object.freeze(claims), until: Math.min(claims.exp as number, now + VERIFIED_TOKEN_TTL_S) });
      ctx.state.jwtClaims = claims;
    } catch (error) {
      ctx.state.jwtOriginalError = error;
    }
  };
  // Not async: a remembered token (most requests) passes on without a promise of its own.
  return (ctx, next) => {
    const header = ctx.req.headers.authorization;
    const token = bearerToken(header);
    if (token === undefined) {
      if (header) ctx.state.jwtOriginalError = new TokenRefused('The Authorization header must read "Bearer <JWT>".');
      return next();
    }
    if (headerCount(ctx.req, 'authorization') > 1) {
      ctx.state.jwtOriginalError = new TokenRefused('Send one Authorization header, not several.');
      return next();
    }
    const now = Math.floor(Date.now() / 1000);
    const known = verified.get(token);
    if (known && now < known.until) {
      ctx.state.jwtClaims = known.claims;
      return next();
    }
    if (known) verified.delete(token);
    return verify(ctx, token, now).then(() => next());
  };
}

/**
 * Why a signed token is still refused, or undefined: it must expire (`exp`), live at most
 * `maxTtlSeconds` (exp minus `iat`, or minus now without one), and not be issued in the future.
 */
export function lifetimeRefusal(claims: Claims, now: number, maxTtlSeconds: number): string | undefined {
  const { exp, iat } = claims;
  if (typeof exp !== 'number') return 'The bearer token must carry "exp"; tokens that never expire are refused.';
  if (typeof iat === 'number' && iat > now + CLOCK_SKEW_S) {
    return `The token's "iat" is ${iat - now} s in the future (at most ${CLOCK_SKEW_S} s of clock skew is allowed); check the issuer's clock.`;
  }
  const from = typeof iat === 'number' ? iat : now;
  if (exp - from > maxTtlSeconds) {
    return `The token lives ${exp - from} s (exp minus ${typeof iat === 'number' ? 'iat' : 'now'}), longer than the ${maxTtlSeconds} s this service accepts (JWT_MAX_TTL_SECONDS); get a shorter-lived token.`;
  }
  return undefined;
}

/** HS256 with the shared secret, through koa-jwt (which reads the token from the header itself). */
function secretCheck(secret: string, options: Config['jwt']): SignatureCheck {
  // As a KeyObject, made once: given a string, jsonwebtoken first tries it as a PEM public key
  // (createPublicKey, which throws) and then makes the secret key, on every request. That was
  // the most expensive step of an authenticated request (docs/benchmarks.md).
  const key = createSecretKey(Buffer.from(secret, 'utf8'));
  const verify = jwt({
    secret: key,
    algorithms: ['HS256'],
    passthrough: true,
    key: 'jwtClaims',
    ...(options.issuer ? { issuer: options.issuer } : {}),
    ...(options.audience ? { audience: options.audience } : {}),
  });
  return async (ctx) => {
    await verify(ctx, async () => {});
    const claims = ctx.state.jwtClaims as Claims | undefined;
    ctx.state.jwtClaims = undefined;
    if (!claims) throw ctx.state.jwtOriginalError;
    return claims;
  };
}

/** RS256/ES256 against the configured key set, through jose. */
function keySetCheck(options: Config['jwt']): SignatureCheck {
  const keys = createRemoteJWKSet(new URL(options.jwksUrl!), {
    cooldownDuration: options.jwksCooldownSeconds * 1000,
    cacheMaxAge: options.jwksCacheSeconds * 1000,
    timeoutDuration: 5000,
  });
  return async (_ctx, token) => {
    try {
      const { payload } = await jwtVerify(token, keys, {
        algorithms: ['RS256', 'ES256'],
        ...(options.issuer ? { issuer: options.issuer } : {}),
        ...(options.audience ? { audience: options.audience } : {}),
      });
      return payload as Claims;
    } catch (error) {
      // The key set could not be had (network, timeout, not a key set): the identity provider is
      // down, not the caller's token wrong.
      const code = (error as { code?: string }).code;
      if (!(error instanceof errors.JOSEError) || code === 'ERR_JOSE_GENERIC' || code === 'ERR_JWKS_TIMEOUT' || code === 'ERR_JWKS_INVALID') {
        throw new HttpProblem(503, 'The key set that verifies bearer tokens (JWT_JWKS_URL) cannot be fetched; retry shortly.', {
          headers: { 'Retry-After': '5' },
        });
      }
      throw error;
    }
  };
}

/** The token of an `Authorization: Bearer <token>` header, read as koa-jwt reads it. */
function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const parts = header.trim().split(' ');
  return parts.length === 2 && /^Bearer$/i.test(parts[0]!) ? parts[1] : undefined;
}

/** What the 401 says about a token that failed verification (jsonwebtoken's or jose's error). */
function refusalDetail(reason: unknown): string {
  const error = reason as { name?: string; code?: string; claim?: string; message?: string } | undefined;
  if (reason instanceof TokenRefused) return reason.message;
  if (error?.name === 'TokenExpiredError' || error?.code === 'ERR_JWT_EXPIRED') return 'The bearer token has expired; get a new one.';
  if (error?.name === 'NotBeforeError' || (error?.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && error.claim === 'nbf')) {
    return 'The bearer token is not valid yet ("nbf" is in the future); check the issuer\'s clock.';
  }
  if (/jwt issuer invalid/.test(error?.message ?? '') || error?.claim === 'iss') return 'The token\'s "iss" is not the issuer this service trusts (JWT_ISSUER).';
  if (/jwt audience invalid/.test(error?.message ?? '') || error?.claim === 'aud') return 'The token\'s "aud" does not name this service (JWT_AUDIENCE).';
  if (error?.code === 'ERR_JOSE_ALG_NOT_ALLOWED') {
    return 'Only RS256 or ES256 tokens signed by a key of the configured key set (JWT_JWKS_URL) are accepted; HS256 is refused.';
  }
  if (error?.code === 'ERR_JWKS_NO_MATCHING_KEY' || error?.code === 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') {
    return 'No key of the configured key set (JWT_JWKS_URL) matches the token\'s "kid" and "alg".';
  }
  return 'The bearer token is malformed or not signed by this service.';
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
    const reason = ctx.state.jwtOriginalError as unknown;
    if (reason instanceof HttpProblem) throw reason;
    throw unauthorized(refusalDetail(reason), { error: 'invalid_token' });
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
