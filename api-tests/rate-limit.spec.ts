/**
 * Rate limits on servers of this test's own, with small quotas (the shared server runs with a
 * quota the suite cannot reach): two replicas on one database share each client's count.
 */
import { startOwnServer, type OwnServer } from './support/own-server.js';
import { scratchDatabase } from './support/scratch-database.js';
import { expect, sql, test, validating } from './support/fixtures.js';
import { createDatabase, type Database } from '../db/pool.js';
import { signToken } from './support/tokens.js';
import type { OpenAPIV3 } from 'openapi-types';
import { contract, specOperations } from './support/contract.js';

const QUOTA = 5;
const WINDOW_S = 60;
const UNKNOWN_CALL = '/calls/00000000-0000-4000-8000-000000000000';
const POLICY = `"default";q=${QUOTA};w=${WINDOW_S}`;

const remainingOf = (header: string | undefined) => Number(/;r=(\d+)/.exec(header ?? '')?.[1]);
const resetOf = (header: string | undefined) => Number(/;t=(\d+)/.exec(header ?? '')?.[1]);

test.describe('rate limits', { tag: '@integration' }, () => {
  test.describe.configure({ mode: 'serial' });

  let replicas: OwnServer[] = [];
  let scratch: Awaited<ReturnType<typeof scratchDatabase>>;
  let shared: Database;

  test.beforeAll(async ({ db }) => {
    scratch = await scratchDatabase(db);
    const env = { RATE_LIMIT_REQUESTS: String(QUOTA), RATE_LIMIT_WINDOW_SECONDS: String(WINDOW_S) };
    // One after the other: the first applies the migrations.
    replicas.push(await startOwnServer({ database: { url: scratch.url }, env }));
    replicas.push(await startOwnServer({ database: { url: scratch.url }, env }));
    shared = await createDatabase({ url: scratch.url, maxConnections: 1, acquireTimeoutMs: 5000, statementTimeoutMs: 5000, connectTimeoutMs: 5000 });
  });

  test.afterAll(async () => {
    await Promise.all(replicas.map((replica) => replica.stop()));
    await shared?.end();
    await scratch?.drop();
  });

  test('each token gets its quota, announced on every response; beyond it, 429 with Retry-After', async ({ request }) => {
    const api = validating(request);
    const [first] = replicas;
    const as = (sub: string) => ({ headers: { Authorization: `Bearer ${signToken({ sub })}` } });
    const remaining: number[] = [];
    for (let i = 0; i < QUOTA; i++) {
      const response = await api.get(`${first!.baseURL}${UNKNOWN_CALL}`, as('quota-user'));
      expect(response.status()).toBe(404);
      expect(response.headers()['ratelimit-policy']).toBe(POLICY);
      remaining.push(remainingOf(response.headers()['ratelimit']));
      expect(resetOf(response.headers()['ratelimit'])).toBeGreaterThan(WINDOW_S - 30);
    }
    expect(remaining).toEqual([4, 3, 2, 1, 0]);

    const refused = await api.get(`${first!.baseURL}${UNKNOWN_CALL}`, as('quota-user'));
    expect(refused.status()).toBe(429);
    const retryAfter = Number(refused.headers()['retry-after']);
    expect(retryAfter).toBeGreaterThan(WINDOW_S - 30);
    expect(retryAfter).toBeLessThanOrEqual(WINDOW_S);
    expect(refused.headers()['ratelimit']).toBe(`"default";r=0;t=${retryAfter}`);
    const problem = await refused.json();
    expect(problem.detail).toMatch(/More than 5 requests in 60 s from token subject "quota-user"; retry after \d+ s/);
    // A POST is refused before its body is read (and creates nothing).
    expect((await api.post(`${first!.baseURL}/calls`, { data: 'not even json', headers: { ...as('quota-user').headers, 'Content-Type': 'application/json' } })).status()).toBe(429);

    // Another subject has a quota of its own.
    const other = await api.get(`${first!.baseURL}${UNKNOWN_CALL}`, as('another-user'));
    expect(other.status()).toBe(404);
    expect(remainingOf(other.headers()['ratelimit'])).toBe(4);
  });

  test('replicas share a client\'s count through PostgreSQL', async ({ request }) => {
    const api = validating(request);
    const [one, two] = replicas;
    const headers = { Authorization: `Bearer ${signToken({ sub: 'spread-user' })}` };
    for (let i = 0; i < 3; i++) expect((await api.get(`${one!.baseURL}${UNKNOWN_CALL}`, { headers })).status()).toBe(404);
    // Hits admitted on the local estimate reach PostgreSQL within 100 ms.
    await expect
      .poll(async () => shared.pool.maybeOneFirst(sql.unsafe`SELECT hits FROM rate_limit_counters WHERE key = 'sub:spread-user'`))
      .toBe(3);
    const remaining: number[] = [];
    for (let i = 0; i < 2; i++) remaining.push(remainingOf((await api.get(`${two!.baseURL}${UNKNOWN_CALL}`, { headers })).headers()['ratelimit']));
    expect(remaining).toEqual([1, 0]);
    expect((await api.get(`${two!.baseURL}${UNKNOWN_CALL}`, { headers })).status()).toBe(429);
    // Replica one's last view of the count (3) predates replica two's hits: it may admit one more
    // on that view (the documented overshoot: what one replica admits within one flush), whose
    // flush brings it PostgreSQL's count; from then on it refuses too.
    const first = await api.get(`${one!.baseURL}${UNKNOWN_CALL}`, { headers });
    if (first.status() !== 429) {
      expect(first.status()).toBe(404);
      await expect
        .poll(async () => shared.pool.maybeOneFirst(sql.unsafe`SELECT hits FROM rate_limit_counters WHERE key = 'sub:spread-user'`))
        .toBe(7);
      expect((await api.get(`${one!.baseURL}${UNKNOWN_CALL}`, { headers })).status()).toBe(429);
    }
  });

  test('without a valid token the client address is counted; the probes are never counted', async ({ request }) => {
    const api = validating(request);
    const [, two] = replicas;
    // Requests from 127.0.0.1 without a token: public and refused (401) ones alike.
    const statuses: number[] = [];
    for (let i = 0; i < QUOTA; i++) statuses.push((await api.get(`${two!.baseURL}${i % 2 ? '/openapi.json' : UNKNOWN_CALL}`)).status());
    expect(statuses).toEqual([401, 200, 401, 200, 401]);
    const refused = await api.get(`${two!.baseURL}/openapi.json`);
    expect(refused.status()).toBe(429);
    expect((await refused.json()).detail).toContain('client address');
    // A token that does not verify counts against the address too.
    expect((await api.get(`${two!.baseURL}${UNKNOWN_CALL}`, { headers: { Authorization: 'Bearer not.a.jwt' } })).status()).toBe(429);
    for (const probe of ['/health', '/ready', '/metrics']) {
      const response = await api.get(`${two!.baseURL}${probe}`);
      expect(response.status(), probe).toBe(200);
      expect(response.headers()['ratelimit'], probe).toBeUndefined();
    }
  });

  test('a server that stops writes the hits it counted locally: none is lost with its last flush', async ({ request }) => {
    // A quota large enough that every hit after the first is admitted on the local estimate,
    // and reaches PostgreSQL only with a flush (FLUSH_MS) or the shutdown's drain.
    const server = await startOwnServer({ database: { url: scratch.url }, env: { RATE_LIMIT_REQUESTS: '1000', RATE_LIMIT_WINDOW_SECONDS: String(WINDOW_S) } });
    const api = validating(request);
    const headers = { Authorization: `Bearer ${signToken({ sub: 'stopping-user' })}` };
    const sent = 40;
    for (let i = 0; i < sent; i++) expect((await api.get(`${server.baseURL}${UNKNOWN_CALL}`, { headers })).status()).toBe(404);
    expect((await server.stop()).code).toBe(0);
    expect(await shared.pool.maybeOneFirst(sql.unsafe`SELECT hits FROM rate_limit_counters WHERE key = 'sub:stopping-user'`)).toBe(sent);
    expect(server.output()).not.toContain('rate limit counts could not be written');
  });
});

test('the contract declares the rate limit fields and 429 on every operation but the probes and the metrics scrape', async () => {
  const missing: string[] = [];
  for (const { method, path, operation } of specOperations((await contract()).definition as OpenAPIV3.Document)) {
    if (path === '/health' || path === '/ready' || path === '/metrics') continue;
    if (!operation.responses['429']) missing.push(`${method} ${path}: no 429`);
    for (const [status, response] of Object.entries(operation.responses)) {
      const headers = (response as OpenAPIV3.ResponseObject).headers;
      // A 503 may come before the count could be read.
      if (status !== '503' && !(headers && 'RateLimit' in headers && 'RateLimit-Policy' in headers)) missing.push(`${method} ${path} ${status}`);
    }
  }
  expect(missing).toEqual([]);
});
