import { randomUUID } from 'node:crypto';
import type { OpenAPIV3 } from 'openapi-types';
import { loadSpec } from '../server/spec.js';
import { contract, specOperations } from './support/contract.js';
import { expect, newCall, test } from './support/fixtures.js';
import { CORS_TEST_ORIGIN } from './support/test-environment.js';

const UNKNOWN_CALL = '/calls/00000000-0000-4000-8000-000000000000';
const OTHER_ORIGIN = 'https://evil.example';
const CORS_HEADER = /^access-control-/;
const EXPOSED = ['ETag', 'Location', 'Retry-After', 'X-Request-Id', 'RateLimit', 'RateLimit-Policy', 'Idempotent-Replayed', 'WWW-Authenticate', 'Allow'];
/**
 * Declared response headers a page's script has no use for: the browser itself acts on them (or,
 * Cache-Control, it may read them anyway: CORS-safelisted).
 */
const FOR_THE_BROWSER = new Set([
  'content-encoding',
  'vary',
  'content-security-policy',
  'cache-control',
  'x-content-type-options',
  'x-frame-options',
  'referrer-policy',
  'cross-origin-resource-policy',
  'access-control-allow-origin',
  'access-control-expose-headers',
  'access-control-allow-methods',
  'access-control-allow-headers',
  'access-control-max-age',
]);

/** Every response header name openapi.yaml declares, on any operation or reusable response. */
function declaredResponseHeaders(): Set<string> {
  const names = new Set<string>();
  const visit = (node: unknown, key?: string): void => {
    if (node === null || typeof node !== 'object') return;
    if (key === 'headers' && !Array.isArray(node)) for (const name of Object.keys(node)) names.add(name.toLowerCase());
    for (const [child, value] of Object.entries(node)) visit(value, child);
  };
  const document = loadSpec().document as { paths: unknown; components: { headers?: object; responses?: unknown } };
  visit(document.paths);
  visit(document.components.responses);
  return names;
}

/** The methods of the contract's operations, upper case. */
async function contractMethods(): Promise<Set<string>> {
  const operations = specOperations((await contract()).definition as OpenAPIV3.Document);
  return new Set(operations.map((operation) => operation.method.toUpperCase()));
}

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
    expect(headers['access-control-allow-methods']!.split(',')).toEqual(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
    // Exactly the methods the contract declares: a method allowed here and answered 405 misleads a browser app.
    expect(new Set(headers['access-control-allow-methods']!.split(','))).toEqual(await contractMethods());
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
      expect(headers['access-control-expose-headers']!.split(',')).toEqual(EXPOSED);
      expect(headers.vary).toMatch(/\bOrigin\b/);
    }
  });

  test('every response header the contract declares that a script acts on is exposed, Idempotent-Replayed on a replay included', async ({ api, trackCall }) => {
    const headers = { Origin: CORS_TEST_ORIGIN, 'Idempotency-Key': randomUUID() };
    const body = newCall();
    const first = await api.post('/calls', body, { headers });
    expect(first.status()).toBe(201);
    trackCall((await first.json()).id);
    const replay = await api.post('/calls', body, { headers });
    expect(replay.status()).toBe(201);
    expect(replay.headers()['idempotent-replayed']).toBe('true');
    const exposed = new Set(replay.headers()['access-control-expose-headers']!.split(',').map((name) => name.toLowerCase()));
    for (const name of ['idempotent-replayed', 'location', 'ratelimit', 'ratelimit-policy', 'x-request-id']) {
      expect(replay.headers()[name], `the replay sends ${name}`).toBeDefined();
      expect(exposed.has(name), `${name} is exposed`).toBe(true);
    }
    const declared = [...declaredResponseHeaders()].filter((name) => !FOR_THE_BROWSER.has(name));
    expect(declared).toContain('idempotent-replayed');
    expect(declared.filter((name) => !exposed.has(name)), 'declared response headers missing from Access-Control-Expose-Headers').toEqual([]);
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
