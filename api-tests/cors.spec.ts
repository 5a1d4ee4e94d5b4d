import { expect, newCall, test } from './support/fixtures.js';
import { CORS_TEST_ORIGIN } from './support/test-environment.js';

const UNKNOWN_CALL = '/calls/00000000-0000-4000-8000-000000000000';
const OTHER_ORIGIN = 'https://evil.example';
const CORS_HEADER = /^access-control-/;

function preflight(origin: string, method = 'PATCH') {
  return {
    method: 'OPTIONS',
    headers: {
      Origin: origin,
      'Access-Control-Request-Method': method,
      'Access-Control-Request-Headers': 'authorization, content-type, if-match',
    },
  };
}

test.describe('CORS', { tag: '@integration' }, () => {
  test('a listed origin\'s preflight is answered 204 with the allowed methods and request headers', async ({ request }) => {
    const response = await request.fetch('/calls/00000000-0000-4000-8000-000000000000', preflight(CORS_TEST_ORIGIN));
    expect(response.status()).toBe(204);
    const headers = response.headers();
    expect(headers['access-control-allow-origin']).toBe(CORS_TEST_ORIGIN);
    expect(headers['access-control-allow-methods']!.split(',')).toEqual(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);
    expect(headers['access-control-allow-headers']!.split(',')).toEqual(['Authorization', 'Content-Type', 'Idempotency-Key', 'If-Match', 'If-None-Match']);
    expect(headers['access-control-max-age']).toBe('600');
    expect(headers.vary).toMatch(/\bOrigin\b/);
    expect(headers['access-control-allow-credentials']).toBeUndefined();
  });

  test('a listed origin\'s requests, errors included, carry Allow-Origin, the exposed headers and Vary: Origin', async ({ api, trackCall }) => {
    const origin = { headers: { Origin: CORS_TEST_ORIGIN } };
    const created = await api.post('/calls', newCall(), origin);
    expect(created.status()).toBe(201);
    trackCall((await created.json()).id);
    const unauthenticated = await api.as(null).get(UNKNOWN_CALL, origin);
    expect(unauthenticated.status()).toBe(401);
    const missing = await api.get(UNKNOWN_CALL, origin);
    expect(missing.status()).toBe(404);
    for (const response of [created, unauthenticated, missing]) {
      const headers = response.headers();
      expect(headers['access-control-allow-origin'], String(response.status())).toBe(CORS_TEST_ORIGIN);
      expect(headers['access-control-expose-headers']!.split(',')).toEqual(['ETag', 'Location', 'Retry-After', 'X-Request-Id', 'RateLimit', 'RateLimit-Policy']);
      expect(headers.vary).toMatch(/\bOrigin\b/);
    }
  });

  test('an unlisted origin gets no CORS headers, and its preflight is not answered', async ({ api, request }) => {
    const response = await api.get(UNKNOWN_CALL, { headers: { Origin: OTHER_ORIGIN } });
    expect(response.status()).toBe(404);
    expect(Object.keys(response.headers()).filter((name) => CORS_HEADER.test(name))).toEqual([]);

    const refused = await request.fetch(UNKNOWN_CALL, preflight(OTHER_ORIGIN));
    expect(refused.status()).toBe(405);
    expect(Object.keys(refused.headers()).filter((name) => CORS_HEADER.test(name))).toEqual([]);
  });

  test('a request without Origin gets no CORS headers', async ({ api }) => {
    const response = await api.get(UNKNOWN_CALL);
    expect(Object.keys(response.headers()).filter((name) => CORS_HEADER.test(name))).toEqual([]);
  });
});
