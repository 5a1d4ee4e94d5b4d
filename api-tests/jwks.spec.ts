/**
 * JWKS mode (JWT_JWKS_URL): an own server verifying against a key set served by this test,
 * which rotates it, counts its fetches and finally goes away.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { startOwnServer, type OwnServer } from './support/own-server.js';
import { scratchDatabase } from './support/scratch-database.js';
import { expect, test, validating } from './support/fixtures.js';
import { signToken } from './support/tokens.js';

const ISSUER = 'https://idp.test.example/';
const AUDIENCE = 'call-coach-api';
const COOLDOWN_S = 5;
const UNKNOWN_CALL = '/calls/00000000-0000-4000-8000-000000000000';

type Key = { kid: string; alg: 'RS256' | 'ES256'; privateKey: CryptoKey; jwk: JWK };

async function newKey(kid: string, alg: Key['alg']): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

function sign(key: Key, claims: Record<string, unknown> = {}, options: { kid?: string; expires?: boolean } = {}) {
  const jwt = new SignJWT({ sub: 'partner-user', email: 'partner@example.com', role: 'manager', ...claims })
    .setProtectedHeader({ alg: key.alg, kid: options.kid ?? key.kid })
    .setIssuedAt()
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE);
  if (options.expires !== false) jwt.setExpirationTime('10m');
  return jwt.sign(key.privateKey);
}

test.describe('JWKS / OIDC tokens', { tag: '@integration' }, () => {
  test.describe.configure({ mode: 'serial' });

  let keySet: JWK[] = [];
  let fetches = 0;
  let idp: Server;
  let server: OwnServer;
  let drop: () => Promise<void>;
  let rsa: Key, ec: Key, stranger: Key;

  test.beforeAll(async ({ db }) => {
    [rsa, ec, stranger] = await Promise.all([newKey('rsa-1', 'RS256'), newKey('ec-1', 'ES256'), newKey('rsa-1', 'RS256')]);
    keySet = [rsa.jwk, ec.jwk];
    idp = createServer((_req, res) => {
      fetches += 1;
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ keys: keySet }));
    });
    await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
    const scratch = await scratchDatabase(db);
    drop = scratch.drop;
    server = await startOwnServer({
      database: { url: scratch.url },
      env: {
        JWT_JWKS_URL: `http://127.0.0.1:${(idp.address() as AddressInfo).port}/.well-known/jwks.json`,
        JWT_ISSUER: ISSUER,
        JWT_AUDIENCE: AUDIENCE,
        JWT_JWKS_COOLDOWN_SECONDS: String(COOLDOWN_S),
      },
    });
  });

  test.afterAll(async () => {
    await server?.stop();
    await drop?.();
    idp?.close();
  });

  const get = async (request: Parameters<typeof validating>[0], token: string) =>
    validating(request).get(`${server.baseURL}${UNKNOWN_CALL}`, { headers: { Authorization: `Bearer ${token}` } });

  test('RS256 and ES256 tokens from the key set are accepted; iss, aud, exp and the signature are checked; HS256 is refused', async ({ request }) => {
    // 404: authenticated, and no such call.
    expect((await get(request, await sign(rsa))).status()).toBe(404);
    expect((await get(request, await sign(ec))).status()).toBe(404);

    const refused: [string, Promise<string> | string, RegExp][] = [
      ['another issuer', new SignJWT({ sub: 'x', role: 'admin' }).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' }).setIssuedAt().setExpirationTime('10m').setIssuer('https://evil.example/').setAudience(AUDIENCE).sign(rsa.privateKey), /"iss"/],
      ['another audience', new SignJWT({ sub: 'x', role: 'admin' }).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' }).setIssuedAt().setExpirationTime('10m').setIssuer(ISSUER).setAudience('other-api').sign(rsa.privateKey), /"aud"/],
      ['no exp', sign(rsa, {}, { expires: false }), /must carry "exp"/],
      ['a known kid, signed by another key', sign(stranger), /malformed or not signed/],
      ['HS256 with the shared secret', signToken(), /HS256 is refused/],
    ];
    for (const [what, token, detail] of refused) {
      const response = await get(request, await token);
      expect(response.status(), what).toBe(401);
      expect((await response.json()).detail, what).toMatch(detail);
    }
  });

  test('a rotated key set is picked up without a restart, fetched at most once per cooldown', async ({ request }) => {
    const next = await newKey('rsa-2', 'RS256');
    keySet = [next.jwk];
    const rotated = await sign(next);
    // The new kid is unknown to the cached set: fetched again once the cooldown since the last fetch is over.
    await expect.poll(async () => (await get(request, rotated)).status(), { timeout: (COOLDOWN_S + 5) * 1000 }).toBe(404);
    const afterRotation = fetches;

    // Right after a fetch, a burst of unknown kids makes no further fetch (cooldown).
    for (let i = 0; i < 10; i++) {
      const response = await get(request, await sign(next, {}, { kid: `unknown-${i}` }));
      expect(response.status()).toBe(401);
      expect((await response.json()).detail).toMatch(/No key of the configured key set/);
    }
    expect(fetches).toBe(afterRotation);
    // The withdrawn key no longer verifies.
    expect((await get(request, await sign(rsa, { sub: 'fresh-token' }))).status()).toBe(401);
  });

  test('while the key set cannot be fetched, protected operations answer 503 with Retry-After', async ({ request }) => {
    await new Promise((resolve) => idp.close(resolve));
    idp.closeAllConnections();
    const unknownKid = await sign(rsa, {}, { kid: 'after-outage' });
    await expect.poll(async () => (await get(request, unknownKid)).status(), { timeout: (COOLDOWN_S + 5) * 1000 }).toBe(503);
    const response = await get(request, unknownKid);
    expect(response.headers()['retry-after']).toBe('5');
    expect((await response.json()).detail).toMatch(/JWT_JWKS_URL/);
  });
});
