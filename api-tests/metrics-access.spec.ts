/**
 * Who may read /metrics (issue 12 item 12): open by default (the shared test server, see
 * system.spec.ts); METRICS_TOKEN makes it a bearer-token read; METRICS_PORT moves it to a listener
 * of its own, and the API's listener then has no metrics at all. Each setting runs in a service
 * process of its own against the test database.
 */
import { randomBytes } from 'node:crypto';
import { freePort } from '../scripts/free-port.js';
import { ApiClient, expect, test } from './support/fixtures.js';
import { startOwnServer, type OwnServer } from './support/own-server.js';
import { testEnvironment } from './support/test-environment.js';
import { signToken } from './support/tokens.js';

const METRICS_LINE = /^call_coach_db_pool_connections\{[^}]*state="total"[^}]*\} \d+$/m;

async function withServer(env: Record<string, string>, run: (server: OwnServer) => Promise<void>): Promise<void> {
  const server = await startOwnServer({ database: { url: testEnvironment().databaseUrl }, env: { MIGRATE_ON_START: 'false', ...env } });
  try {
    await run(server);
  } finally {
    await server.stop();
  }
}

test.describe('access to /metrics', { tag: '@integration' }, () => {
  test('with METRICS_TOKEN: no token or a wrong one is a 401 with WWW-Authenticate; the token reads the metrics', async ({ playwright }) => {
    const token = randomBytes(24).toString('base64url');
    await withServer({ METRICS_TOKEN: token }, async (server) => {
      const context = await playwright.request.newContext({ baseURL: server.baseURL });
      const api = new ApiClient(context, null);
      for (const [what, caller] of [
        ['no token', api],
        ['a wrong token', api.as(`${token}x`)],
        ['an API token (a valid admin JWT)', api.as(signToken())],
      ] as const) {
        const response = await caller.get('/metrics');
        expect(response.status(), what).toBe(401);
        expect(response.headers()['www-authenticate'], what).toMatch(/^Bearer realm="metrics"/);
        expect(await response.text(), what).not.toMatch(METRICS_LINE);
      }
      const allowed = await api.as(token).get('/metrics');
      expect(allowed.status()).toBe(200);
      expect(await allowed.text()).toMatch(METRICS_LINE);
      // The probes stay open.
      expect((await api.get('/health')).status()).toBe(200);
      await context.dispose();
    });
  });

  test('with METRICS_PORT: the metrics listener serves them (token and all), the API listener answers 404', async ({ playwright }) => {
    const port = await freePort();
    const token = randomBytes(24).toString('base64url');
    await withServer({ METRICS_PORT: String(port), METRICS_HOST: '127.0.0.1', METRICS_TOKEN: token }, async (server) => {
      const apiContext = await playwright.request.newContext({ baseURL: server.baseURL });
      const onApi = await new ApiClient(apiContext, token).get('/metrics');
      expect(onApi.status()).toBe(404);
      expect(await onApi.text()).not.toMatch(METRICS_LINE);

      const metricsContext = await playwright.request.newContext({ baseURL: `http://127.0.0.1:${port}` });
      const metrics = new ApiClient(metricsContext, null);
      expect((await metrics.get('/metrics')).status(), 'the token is still needed there').toBe(401);
      const allowed = await metrics.as(token).get('/metrics');
      expect(allowed.status()).toBe(200);
      expect(await allowed.text()).toMatch(METRICS_LINE);
      // It serves nothing but the metrics (raw requests: the contract describes the API's listener).
      for (const path of ['/health', '/calls', '/docs']) {
        const response = await metricsContext.get(path, { headers: { Authorization: `Bearer ${token}` } });
        expect(response.status(), path).toBe(404);
        expect(response.headers()['content-type'], path).toMatch(/^application\/problem\+json/);
      }
      await Promise.all([apiContext.dispose(), metricsContext.dispose()]);
    });
  });
});
