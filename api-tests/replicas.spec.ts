/** What a replica behind a load balancer needs: trusted client addresses only, metrics per instance. */
import { expect, test } from './support/fixtures.js';
import { startOwnServer } from './support/own-server.js';
import { testEnvironment } from './support/test-environment.js';

/** The `ip` of the request log line for `requestId`. */
function loggedIp(output: string, requestId: string): unknown {
  const line = output.split('\n').find((text) => text.includes(`"request_id":"${requestId}"`) && text.includes('"msg":"request"'));
  return line ? JSON.parse(line).ip : undefined;
}

test.describe('replicas behind a proxy', { tag: '@integration' }, () => {
  test('every metric series carries the instance label', async ({ api }) => {
    const text = await (await api.get('/metrics')).text();
    const samples = text.split('\n').filter((line) => line && !line.startsWith('#'));
    expect(samples.length).toBeGreaterThan(20);
    const unlabelled = samples.filter((line) => !/[{,]instance="[^"]+"/.test(line));
    expect(unlabelled).toEqual([]);
  });

  test('X-Forwarded-For decides the logged client address only with TRUST_PROXY; INSTANCE_ID names the replica', async () => {
    const database = { url: testEnvironment().databaseUrl };
    const [trusting, plain] = await Promise.all([
      startOwnServer({ database, env: { TRUST_PROXY: 'true', INSTANCE_ID: 'replica-a', MIGRATE_ON_START: 'false' } }),
      startOwnServer({ database, env: { MIGRATE_ON_START: 'false' } }),
    ]);
    try {
      const headers = { 'X-Forwarded-For': '198.51.100.9, 203.0.113.7', 'X-Request-Id': 'proxied-1' };
      expect((await fetch(`${trusting.baseURL}/health`, { headers })).status).toBe(200);
      expect((await fetch(`${plain.baseURL}/health`, { headers })).status).toBe(200);
      // One trusted hop (TRUST_PROXY_MAX_IPS=1): the address the proxy itself saw.
      await expect.poll(() => loggedIp(trusting.output(), 'proxied-1')).toBe('203.0.113.7');
      await expect.poll(() => loggedIp(plain.output(), 'proxied-1')).toBe('127.0.0.1');
      expect(await (await fetch(`${trusting.baseURL}/metrics`)).text()).toMatch(/call_coach_http_requests_total\{[^}]*instance="replica-a"/);
      expect(await (await fetch(`${plain.baseURL}/metrics`)).text()).toMatch(/instance="[^"]+:\d+"/);
    } finally {
      await Promise.all([trusting.stop(), plain.stop()]);
    }
  });
});
