import { expect, newCall, test } from './support/fixtures.js';
import { signToken, unsignedToken } from './support/tokens.js';

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
