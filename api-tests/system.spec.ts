import { parse } from 'yaml';
import { loadSpec } from '../server/spec.js';
import { expect, test } from './support/fixtures.js';

test.describe('system operations', { tag: '@integration' }, () => {
  test('health answers ok', async ({ api }) => {
    expect(await (await api.get('/health')).json()).toEqual({ status: 'ok' });
  });

  test('ready reports the database reachable and the pool within its maximum', async ({ api }) => {
    const body = await (await api.get('/ready')).json();
    expect(body.status).toBe('ready');
    expect(body.database.reachable).toBe(true);
    expect(body.pool.max).toBe(10);
    expect(body.pool.total).toBeLessThanOrEqual(body.pool.max);
  });

  test('the contract is served as committed, in YAML and JSON', async ({ api }) => {
    const committed = loadSpec();
    const yaml = await api.get('/openapi.yaml');
    expect(yaml.headers()['content-type']).toContain('application/yaml');
    expect(await yaml.text()).toBe(committed.yaml);
    expect(await (await api.get('/openapi.json')).json()).toEqual(parse(committed.yaml));
  });

  test('Swagger UI and its assets are served by the service itself', async ({ api, request }) => {
    const page = await api.get('/docs');
    const html = await page.text();
    expect(html).toContain('id="swagger-ui"');
    const assets = [...html.matchAll(/(?:src|href)="(\/docs\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(4);
    for (const asset of assets) {
      const response = await request.get(asset);
      expect(response.status(), asset).toBe(200);
      expect((await response.body()).length, asset).toBeGreaterThan(100);
    }
  });

  test('a caller-supplied X-Request-Id is echoed; a strange one is replaced', async ({ api }) => {
    const echoed = await api.get('/health', { headers: { 'X-Request-Id': 'trace-abc.123' } });
    expect(echoed.headers()['x-request-id']).toBe('trace-abc.123');
    const replaced = await api.get('/health', { headers: { 'X-Request-Id': 'bad id with spaces' } });
    expect(replaced.headers()['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('unknown routes and methods answer with problems', async ({ api }) => {
    const missing = await api.get('/nothing-here');
    expect(missing.status()).toBe(404);
    const wrongMethod = await api.fetch('DELETE', '/health');
    expect(wrongMethod.status()).toBe(405);
    expect((await wrongMethod.json()).detail).toContain('DELETE');
  });

  test('responses carry security headers', async ({ api }) => {
    const headers = (await api.get('/health')).headers();
    expect(headers['x-content-type-options']).toBe('nosniff');
    expect(headers['x-frame-options']).toBe('DENY');
    expect(headers['cache-control']).toBe('no-store');
  });
});
