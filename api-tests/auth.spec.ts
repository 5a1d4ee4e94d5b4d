import { spawnSync } from 'node:child_process';
import { expect, newCall, test } from './support/fixtures.js';
import { testEnvironment } from './support/test-environment.js';
import { signExactly, signToken, unsignedToken } from './support/tokens.js';

const CALL_PATH = '/calls/00000000-0000-4000-8000-000000000000';

test.describe('bearer authentication', { tag: '@integration' }, () => {
  const refused: [string, () => string | null, RegExp][] = [
    ['no token', () => null, /Send a bearer token/],
    ['a malformed token', () => 'not.a.jwt', /malformed or not signed/],
    ['a token signed with another secret', () => signToken({}, { secret: 'someone-elses-secret-0123456789abcdef' }), /malformed or not signed/],
    ['an expired token', () => signToken({}, { expiresInSeconds: -60 }), /expired/],
    ['an unsigned alg:none token', () => unsignedToken(), /malformed or not signed/],
    ['a token without a known role', () => signToken({ role: 'superuser' }), /"role"/],
  ];

  for (const [what, token, detail] of refused) {
    test(`${what} is refused with 401, WWW-Authenticate and a problem`, async ({ api }) => {
      for (const request of [() => api.as(token()).get(CALL_PATH), () => api.as(token()).post('/calls', newCall())]) {
        const response = await request();
        expect(response.status()).toBe(401);
        expect(response.headers()['www-authenticate']).toMatch(/^Bearer realm="call-coach"/);
        const problem = await response.json();
        expect(problem).toMatchObject({ status: 401, title: 'Unauthorized' });
        expect(problem.detail).toMatch(detail);
      }
    });
  }

  test('an Authorization header without the Bearer scheme is refused', async ({ api }) => {
    const response = await api.as(null).get(CALL_PATH, { headers: { Authorization: `Basic ${signToken()}` } });
    expect(response.status()).toBe(401);
    expect((await response.json()).detail).toContain('Bearer');
  });

  test('a valid token is accepted', async ({ api, trackCall }) => {
    const token = signToken({ role: 'service', sub: 'gong-sync' });
    const created = await api.as(token).post('/calls', newCall());
    expect(created.status()).toBe(201);
    const call = await created.json();
    trackCall(call.id);
    const response = await api.as(token).get(`/calls/${call.id}`);
    expect(response.status()).toBe(200);
  });

  test('public operations need no token', async ({ api }) => {
    const anonymous = api.as(null);
    for (const path of ['/health', '/ready', '/openapi.json', '/openapi.yaml', '/docs']) {
      expect((await anonymous.get(path)).status(), path).toBe(200);
    }
  });

  test('a 401 is not masked by a body problem: auth is checked first', async ({ api }) => {
    const response = await api.as(null).fetch('POST', '/calls', { data: 'oops', headers: { 'Content-Type': 'text/plain' } });
    expect(response.status()).toBe(401);
  });
});

test.describe('token lifetimes', { tag: '@integration' }, () => {
  const now = () => Math.floor(Date.now() / 1000);
  const DAY = 86_400; // JWT_MAX_TTL_SECONDS's default, which the shared server runs with

  const refused: [string, () => Record<string, unknown>, RegExp][] = [
    ['a token without exp', () => ({ iat: now() }), /must carry "exp"/],
    ['a token living longer than JWT_MAX_TTL_SECONDS (from iat)', () => ({ iat: now() - 60, exp: now() + DAY }), /longer than the 86400 s.*JWT_MAX_TTL_SECONDS/],
    ['a token living longer than JWT_MAX_TTL_SECONDS (no iat: from now)', () => ({ exp: now() + DAY + 120 }), /exp minus now.*JWT_MAX_TTL_SECONDS/],
    ['a token issued more than 60 s in the future', () => ({ iat: now() + 120, exp: now() + 600 }), /"iat" is 1[12]\d s in the future/],
    ['a token valid only from more than 60 s on', () => ({ iat: now(), nbf: now() + 120, exp: now() + 600 }), /not valid yet/],
  ];
  for (const [what, payload, detail] of refused) {
    test(`${what} is refused with 401 and says why`, async ({ api }) => {
      const response = await api.as(signExactly(payload())).get(CALL_PATH);
      expect(response.status()).toBe(401);
      expect(response.headers()['www-authenticate']).toBe('Bearer realm="call-coach", error="invalid_token"');
      expect((await response.json()).detail).toMatch(detail);
    });
  }

  const accepted: [string, () => Record<string, unknown>][] = [
    ['a token of exactly the longest lifetime', () => ({ iat: now(), exp: now() + DAY })],
    ['a token without iat, inside the lifetime from now', () => ({ exp: now() + 3600 })],
    ['a token issued 30 s in the future (clock skew)', () => ({ iat: now() + 30, exp: now() + 3600 })],
  ];
  for (const [what, payload] of accepted) {
    test(`${what} is accepted`, async ({ api }) => {
      // 404: authenticated, and no such call.
      expect((await api.as(signExactly(payload())).get(CALL_PATH)).status()).toBe(404);
    });
  }

  test('npm run token refuses to mint beyond JWT_MAX_TTL_SECONDS and mints a token the service accepts', async ({ api }) => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'scripts/token.ts', ...args], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, JWT_SECRET: testEnvironment().jwtSecret },
      });
    const tooLong = run('--hours', '876000');
    expect(tooLong.status).toBe(2);
    expect(tooLong.stdout).toBe('');
    expect(tooLong.stderr).toContain('JWT_MAX_TTL_SECONDS is 86400 s');
    const minted = run('--hours', '24', '--role', 'manager');
    expect(minted.status).toBe(0);
    expect((await api.as(minted.stdout.trim()).get(CALL_PATH)).status()).toBe(404);
  });
});
