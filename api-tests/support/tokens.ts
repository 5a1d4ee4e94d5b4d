import jwt from 'jsonwebtoken';
import { testEnvironment } from './test-environment.js';

export type Role = 'rep' | 'manager' | 'admin' | 'service';

/** A token as the service issues them, signed with the test run's JWT_SECRET unless told otherwise. */
export function signToken(
  claims: { sub?: string; email?: string; role?: Role | string } = {},
  options: { secret?: string; expiresInSeconds?: number } = {},
): string {
  const payload = { sub: 'test-user', email: 'test.user@example.com', role: 'admin', ...claims };
  return jwt.sign(payload, options.secret ?? testEnvironment().jwtSecret, {
    algorithm: 'HS256',
    expiresIn: options.expiresInSeconds ?? 600,
  });
}

/** HS256 over exactly `payload` (no iat or exp added): for tokens with odd lifetimes. */
export function signExactly(payload: Record<string, unknown>): string {
  const claims = { sub: 'test-user', email: 'test.user@example.com', role: 'admin', ...payload };
  // jsonwebtoken keeps a given iat, adds one when absent, and with noTimestamp drops even a given one.
  return jwt.sign(claims, testEnvironment().jwtSecret, { algorithm: 'HS256', noTimestamp: !('iat' in payload) });
}

/** An unsigned `alg: none` token, which must never be accepted. */
export function unsignedToken(claims: Record<string, unknown> = { sub: 'x', role: 'admin' }): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ ...claims, exp: Math.floor(Date.now() / 1000) + 600 })}.`;
}
