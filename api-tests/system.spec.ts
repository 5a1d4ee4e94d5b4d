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

  test('metrics expose the pool and per-operation request counts and latencies, in Prometheus text', async ({ api }) => {
    const health = await api.get('/health', { headers: { 'X-Request-Id': 'metrics-probe' } });
    expect(health.status()).toBe(200);
    const response = await api.get('/metrics');
    expect(response.headers()['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    for (const state of ['total', 'idle', 'active']) {
      expect(text).toMatch(new RegExp(`^call_coach_db_pool_connections\\{state="${state}",instance="[^"]+"\\} \\d+$`, 'm'));
    }
    expect(text).toMatch(/^call_coach_db_pool_waiting_requests\{instance="[^"]+"\} \d+$/m);
    expect(text).toMatch(/^call_coach_db_pool_max_connections\{instance="[^"]+"\} 10$/m);
    const count = /^call_coach_http_requests_total\{operation_id="getHealth",method="GET",status="200",instance="[^"]+"\} (\d+)$/m.exec(text);
    expect(Number(count?.[1])).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^call_coach_http_request_duration_seconds_bucket\{le="\+Inf",instance="[^"]+",operation_id="getHealth",method="GET",status="200"\} \d+$/m);
    // Unmatched routes share one label value instead of one series per path.
    await api.get(`/no-such-path-${Date.now()}`);
    expect(await (await api.get('/metrics')).text()).toMatch(/operation_id="none",method="GET",status="404"/);
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
