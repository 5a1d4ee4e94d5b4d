/**
 * What must never get in or out: NUL characters, huge and odd text, prototype keys, duplicate
 * keys; statement timeouts that become 503s rather than hangs; request ids on every log line.
 * The last two use a server process of their own (support/own-server.ts: a tiny statement
 * timeout, info logs) on a scratch database of its own, so its sessions never mix with the
 * shared server's (the pool tests count those).
 */
import { randomUUID } from 'node:crypto';
import { createDatabase, type Database } from '../db/pool.js';
import { freePort } from '../scripts/free-port.js';
import { contract, expectProtocolLevelProblem } from './support/contract.js';
import { ApiClient, expect, newCall, sql, test } from './support/fixtures.js';
import { startOwnServer, type OwnServer } from './support/own-server.js';
import { exchange, holdConnection, type HeldConnection } from './support/raw-http.js';
import { scratchDatabase, type ScratchDatabase } from './support/scratch-database.js';
import { testEnvironment } from './support/test-environment.js';
import { signToken } from './support/tokens.js';

async function createCall(api: ApiClient, trackCall: (id: string) => void, overrides: Record<string, unknown> = {}) {
  const response = await api.post('/calls', newCall(overrides));
  expect(response.status(), JSON.stringify(await response.json())).toBe(201);
  const call = await response.json();
  trackCall(call.id);
  return call;
}

test.describe('bad input is refused clearly or stored intact', { tag: '@integration' }, () => {
  const nulBodies: [string, Record<string, unknown>, string][] = [
    ['a NUL in a metadata value', { metadata: { note: 'a\u0000b' } }, '/metadata/note'],
    ['a NUL deep inside metadata', { metadata: { a: [{ b: 'x\u0000' }] } }, '/metadata/a/0/b'],
    ['a NUL in a metadata key', { metadata: { 'bad\u0000key': 1 } }, '/metadata/bad\u0000key'],
    ['a NUL in the title', { title: 'Acme\u0000call' }, '/title'],
    ['a NUL in a speaker name', { speakers: [{ name: 'Sa\u0000rah', role: 'ae', company_side: true }] }, '/speakers/0/name'],
  ];
  for (const [what, overrides, pointer] of nulBodies) {
    test(`${what} is a 400 naming ${JSON.stringify(pointer)}, and nothing is stored`, async ({ api, db }) => {
      const body = newCall(overrides);
      const response = await api.post('/calls', body);
      expect(response.status()).toBe(400);
      const problem = await response.json();
      expect(problem.errors).toContainEqual({ location: 'body', path: pointer, message: 'must not contain the NUL character (\\u0000)' });
      expect(await db.pool.exists(sql.unsafe`SELECT 1 FROM calls WHERE gong_call_id = ${String(body.gong_call_id)}`)).toBe(false);
    });
  }

  test('a NUL in a new speaker is a 400 too', async ({ api, trackCall }) => {
    const call = await createCall(api, trackCall);
    const response = await api.post(`/calls/${call.id}/speakers`, { name: 'x\u0000', role: 'se', company_side: true });
    expect(response.status()).toBe(400);
    expect((await response.json()).errors[0]).toMatchObject({ location: 'body', path: '/name' });
  });

  test('large and unusual text is stored intact', async ({ api, db, trackCall }) => {
    const title = `${'ü'.repeat(200)} 🎧 שלום \u202e ${'x'.repeat(280)}`.slice(0, 500);
    const huge = 'z'.repeat(700_000); // well inside the 1 MiB body limit
    const metadata = { huge, emoji: '👩🏽‍💻', quote: `"'\\`, nested: { list: [1, 'two', null, true] }, ['__proto']: 'fine' };
    const call = await createCall(api, trackCall, { title, metadata });
    const fetched = await (await api.get(`/calls/${call.id}`)).json();
    expect(fetched.title).toBe(title);
    expect(fetched.metadata).toEqual(metadata);
    const stored = await db.pool.oneFirst(sql.unsafe`SELECT length(metadata->>'huge') FROM calls WHERE id = ${call.id}`);
    expect(stored).toBe(huge.length);
  });

  test('a title one character over its limit is a 400 naming it', async ({ api }) => {
    const response = await api.post('/calls', newCall({ title: 'x'.repeat(501) }));
    expect(response.status()).toBe(400);
    expect((await response.json()).errors).toContainEqual(expect.objectContaining({ location: 'body', path: '/title' }));
  });

  /**
   * What a polluted Object.prototype.role would change: a token without a role claim would read
   * the inherited "admin" (auth.ts destructures the claims) and be let in. It must stay a 401.
   */
  async function expectPrototypeUnpolluted(api: ApiClient) {
    const roleless = await api.as(signToken({ role: undefined })).get('/calls?limit=1');
    expect(roleless.status(), 'a token without a role is still refused').toBe(401);
  }

  for (const [what, raw, at] of [
    ['__proto__ at the top', '{"__proto__": {"role": "admin"}, "title": "x"}', '/__proto__'],
    ['__proto__ inside metadata', '{"gong_call_id": "1", "title": "x", "scheduled_at": "2026-11-02T15:00:00Z", "metadata": {"__proto__": {"role": "admin"}}}', '/metadata/__proto__'],
  ] as const) {
    test(`${what} is refused as a reserved key, and nothing is polluted`, async ({ api }) => {
      const response = await api.fetch('POST', '/calls', { data: Buffer.from(raw), headers: { 'Content-Type': 'application/json' } });
      expect(response.status()).toBe(400);
      const problem = await response.json();
      expect(problem.detail).toMatch(/reserved key/);
      expect(problem.errors[0]).toMatchObject({ location: 'body', path: at });
      await expectPrototypeUnpolluted(api);
    });
  }

  test('constructor.prototype inside metadata is plain data: stored as given, nothing polluted', async ({ api, trackCall }) => {
    const metadata = { constructor: { prototype: { role: 'admin' } } };
    const call = await createCall(api, trackCall, { metadata });
    expect((await (await api.get(`/calls/${call.id}`)).json()).metadata).toEqual(metadata);
    await expectPrototypeUnpolluted(api);
  });

  test('a duplicate key counts with its last value (as documented)', async ({ api, trackCall }) => {
    const body = newCall();
    const raw = JSON.stringify(body).replace(/^\{/, '{"title": "the first title",');
    const response = await api.fetch('POST', '/calls', { data: Buffer.from(raw), headers: { 'Content-Type': 'application/json' } });
    expect(response.status()).toBe(201);
    const call = await response.json();
    trackCall(call.id);
    expect(call.title).toBe(body.title);
  });
});

test.describe('a server of its own with a 300 ms statement timeout and info logs', { tag: '@integration' }, () => {
  test.describe.configure({ mode: 'serial' });
  let scratch: ScratchDatabase;
  let server: OwnServer;
  let serverDb: Database;
  let api: ApiClient;
  let dispose: () => Promise<void>;
  const logLines = () => server.output().split('\n').filter(Boolean);

  test.beforeAll(async ({ playwright, db }) => {
    scratch = await scratchDatabase(db);
    server = await startOwnServer({
      database: { url: scratch.url },
      env: { DB_STATEMENT_TIMEOUT_MS: '300', LOG_LEVEL: 'info', DB_POOL_MAX: '3' },
    });
    serverDb = await createDatabase({
      url: scratch.url, maxConnections: 2, acquireTimeoutMs: 5000, statementTimeoutMs: 10_000, connectTimeoutMs: 5000,
    });
    const context = await playwright.request.newContext({ baseURL: server.baseURL });
    api = new ApiClient(context, signToken());
    dispose = () => context.dispose();
  });

  test.afterAll(async () => {
    await dispose?.();
    await serverDb?.end();
    await server?.stop();
    await scratch?.drop();
  });

  test('a statement that runs too long is cancelled and answered 503 with Retry-After, not a hang', async () => {
    // The scratch database goes with all it holds: nothing to clean up call by call.
    const call = await createCall(api, () => {});
    // Hold the call's row lock: adding a speaker must wait for it (foreign key check) past 300 ms.
    await serverDb.transaction(async (transaction) => {
      await transaction.query(sql.unsafe`SELECT id FROM calls WHERE id = ${call.id} FOR UPDATE`);
      const started = Date.now();
      const response = await api.post(`/calls/${call.id}/speakers`, { name: 'Slow Sam', role: 'se', company_side: true });
      const elapsed = Date.now() - started;
      expect(response.status()).toBe(503);
      expect(response.headers()['retry-after']).toBe('1');
      expect((await response.json()).detail).toMatch(/took too long/);
      expect(elapsed).toBeGreaterThanOrEqual(250);
      expect(elapsed).toBeLessThan(5_000);
    });
    // Nothing half-written, and the server recovered.
    const fetched = await api.get(`/calls/${call.id}`);
    expect(fetched.status()).toBe(200);
    expect((await fetched.json()).speakers.map((s: { name: string }) => s.name)).not.toContain('Slow Sam');
  });

  test('every log line is JSON and every request line carries its request id', async () => {
    const ids = ['trace-hardening-1', 'trace-hardening-2'];
    await api.get('/health', { headers: { 'X-Request-Id': ids[0]! } });
    await api.get('/calls/00000000-0000-4000-8000-000000000000', { headers: { 'X-Request-Id': ids[1]! } });
    await expect.poll(() => logLines().filter((line) => ids.some((id) => line.includes(id))).length).toBe(2);
    const entries = logLines().map((line) => JSON.parse(line) as Record<string, unknown>);
    const requests = entries.filter((entry) => entry.msg === 'request');
    expect(requests.length).toBeGreaterThanOrEqual(2);
    for (const entry of requests) expect(entry.request_id, JSON.stringify(entry)).toEqual(expect.any(String));
    expect(requests.find((entry) => entry.request_id === ids[1])).toMatchObject({ method: 'GET', status: 404 });
    // The 503 above was logged in full (with its error) under its request id too.
    const failure = entries.find((entry) => entry.msg === 'request failed');
    expect(failure, 'the timed-out request was logged').toBeDefined();
    expect(failure!.request_id).toEqual(expect.any(String));
    expect(requests.some((entry) => entry.request_id === failure!.request_id && entry.status === 503)).toBe(true);
  });
});

/**
 * The connection cap (HTTP_MAX_CONNECTIONS, server/connections.ts), on a server of its own with a
 * cap of 3 and a metrics listener (METRICS_PORT), both held full by real sockets: each a request
 * answered, then the head of a next one left unfinished (a slow client, not an idle keep-alive).
 */
test.describe('a server of its own with HTTP_MAX_CONNECTIONS=3', { tag: '@integration' }, () => {
  test.describe.configure({ mode: 'serial' });
  const CAP = 3;
  let server: OwnServer;
  let apiPort: number;
  let metricsPort: number;

  test.beforeAll(async () => {
    metricsPort = await freePort();
    server = await startOwnServer({
      database: { url: testEnvironment().databaseUrl },
      env: { MIGRATE_ON_START: 'false', HTTP_MAX_CONNECTIONS: String(CAP), HTTP_MAX_CONNECTIONS_PER_CLIENT: String(CAP), METRICS_PORT: String(metricsPort), LOG_LEVEL: 'info' },
    });
    apiPort = Number(new URL(server.baseURL).port);
    // Ready before any connection is held, so that every test is done long before their 408s.
    await contract();
    for (const [port, path] of [[apiPort, '/health'], [metricsPort, '/metrics']] as const) {
      await Promise.all((await fill(port, path)).map((connection) => connection.close()));
    }
  });
  test.afterAll(async () => {
    await server?.stop();
  });

  const head = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}`;

  /**
   * CAP connections to `port` at once, each surely accepted (its request answered) and then kept
   * busy with the head of a next request left unfinished (20 s before its 408); undefined, all
   * closed again, when a slot was still held by a connection of before (the start's /health poll
   * keeps its connection alive for a few seconds).
   */
  async function tryFill(port: number, path: string): Promise<HeldConnection[] | undefined> {
    const held = await Promise.all(Array.from({ length: CAP }, () => holdConnection(port)));
    const statuses = await Promise.all(held.map((connection) => connection.request(`${head(path)}\r\n`).then((answer) => answer.status, () => 0)));
    if (statuses.every((status) => status === 200)) {
      for (const connection of held) connection.write(head(path));
      return held;
    }
    await Promise.all(held.map((connection) => connection.close()));
    return undefined;
  }

  async function fill(port: number, path: string): Promise<HeldConnection[]> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const held = await tryFill(port, path);
      if (held) return held;
      if (Date.now() > deadline) throw new Error(`could not hold all ${CAP} connections of port ${port}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async function expectRefused(port: number, path: string, requestId: string): Promise<string> {
    const { answers, closed, reset } = await exchange(port, `${head(path, `X-Request-Id: ${requestId}\r\n`)}\r\n`);
    expect(answers.map((answer) => answer.status), 'one answer: 503').toEqual([503]);
    expect(reset, 'closed, not reset').toBe(false);
    expect(closed, 'the server closed the connection').toBe(true);
    const answer = answers[0]!;
    expect(answer.headers['retry-after']).toMatch(/^\d+$/);
    const problem = await expectProtocolLevelProblem({ status: () => answer.status, headers: () => answer.headers, body: async () => answer.body });
    expect(problem.type).toMatch(/\/too-many-connections$/);
    expect(String(problem.detail)).toContain(`(${CAP})`);
    expect(answer.headers['x-request-id'], 'answered before the request was read').not.toBe(requestId);
    return answer.headers['x-request-id']!;
  }

  test('the API listener: a connection past the cap gets 503 problem+json with Retry-After, unread; one freed, it is served', async () => {
    const held = await fill(apiPort, '/health');
    try {
      const requestIds = [`over-cap-${randomUUID()}`, `over-cap-${randomUUID()}`];
      const answeredIds = [];
      for (const requestId of requestIds) answeredIds.push(await expectRefused(apiPort, '/health', requestId));
      expect(new Set(answeredIds).size, 'each refusal has a request id of its own').toBe(2);
      for (const requestId of requestIds) expect(server.output(), 'the refused request never reached the service').not.toContain(requestId);
    } finally {
      await held.pop()!.close();
    }
    try {
      await expect.poll(async () => (await exchange(apiPort, `${head('/health', 'Connection: close\r\n')}\r\n`)).answers[0]?.status).toBe(200);
    } finally {
      await Promise.all(held.map((connection) => connection.close()));
    }
  });

  test('a flood far past the cap: every connection is answered 503 or closed, none hangs, and the server serves on', async () => {
    const held = await fill(apiPort, '/health');
    try {
      const flood = await Promise.all(Array.from({ length: 200 }, () => exchange(apiPort, `${head('/health')}\r\n`)));
      for (const { answers, hung } of flood) {
        expect(hung, 'answered or closed, not left hanging').toBe(false);
        expect(answers.map((answer) => answer.status)).toEqual(answers.length ? [503] : []);
      }
      expect(flood.filter(({ answers }) => answers.length).length, 'at least the refusal room is answered').toBeGreaterThanOrEqual(1);
    } finally {
      await Promise.all(held.map((connection) => connection.close()));
    }
    await expect.poll(async () => (await exchange(apiPort, `${head('/health', 'Connection: close\r\n')}\r\n`)).answers[0]?.status).toBe(200);
    await expect.poll(() => server.output()).toMatch(/"msg":"connections refused: a connection cap is reached"/);
  });

  test('a request head left unfinished: 408 problem+json once 20 s have passed, on either listener', { tag: '@slow' }, async () => {
    test.setTimeout(60_000);
    const outcomes = await Promise.all(
      [apiPort, metricsPort].map(async (port) => {
        const started = performance.now();
        const outcome = await exchange(port, head('/health'), { timeoutMs: 40_000 });
        return { ...outcome, seconds: (performance.now() - started) / 1000 };
      }),
    );
    for (const { answers, closed, seconds } of outcomes) {
      expect(answers.map((answer) => answer.status)).toEqual([408]);
      expect(closed).toBe(true);
      await expectProtocolLevelProblem({ status: () => answers[0]!.status, headers: () => answers[0]!.headers, body: async () => answers[0]!.body });
      // The contract's bound (info.description): the head within 20 s. Node checks once a second.
      expect(seconds).toBeGreaterThanOrEqual(19.5);
      expect(seconds).toBeLessThan(25);
    }
  });

  test('the METRICS_PORT listener: malformed HTTP is a 400 problem+json, and it has the cap too', async () => {
    const { answers, closed } = await exchange(metricsPort, 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A : b\r\n\r\n');
    expect(answers.map((answer) => answer.status)).toEqual([400]);
    expect(closed).toBe(true);
    await expectProtocolLevelProblem({ status: () => answers[0]!.status, headers: () => answers[0]!.headers, body: async () => answers[0]!.body });
    const held = await fill(metricsPort, '/metrics');
    try {
      await expectRefused(metricsPort, '/metrics', `over-cap-${randomUUID()}`);
    } finally {
      await Promise.all(held.map((connection) => connection.close()));
    }
  });
});

/**
 * The cap per client address (HTTP_MAX_CONNECTIONS_PER_CLIENT), on a server of its own: 4 in all,
 * 2 per address; the clients are 127.0.0.1 to 127.0.0.4 (Linux routes all of 127.0.0.0/8 to the
 * loopback), each connection held with a request answered and the next head left unfinished.
 */
test.describe('a server of its own with HTTP_MAX_CONNECTIONS=4 and HTTP_MAX_CONNECTIONS_PER_CLIENT=2', { tag: '@integration' }, () => {
  let server: OwnServer;
  let port: number;
  test.beforeAll(async () => {
    server = await startOwnServer({
      database: { url: testEnvironment().databaseUrl },
      env: { MIGRATE_ON_START: 'false', HTTP_MAX_CONNECTIONS: '4', HTTP_MAX_CONNECTIONS_PER_CLIENT: '2' },
    });
    port = Number(new URL(server.baseURL).port);
    await contract();
  });
  test.afterAll(async () => {
    await server?.stop();
  });

  const request = 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n';
  async function hold(localAddress: string): Promise<HeldConnection> {
    const connection = await holdConnection(port, { localAddress });
    expect((await connection.request(`${request}\r\n`)).status, `a connection from ${localAddress}`).toBe(200);
    connection.write(request);
    return connection;
  }
  async function refused(localAddress: string): Promise<string> {
    const { answers, closed } = await exchange(port, `${request}\r\n`, { localAddress });
    expect(answers.map((answer) => answer.status), `a connection from ${localAddress}`).toEqual([503]);
    expect(closed).toBe(true);
    const answer = answers[0]!;
    expect(answer.headers['retry-after']).toMatch(/^\d+$/);
    const problem = await expectProtocolLevelProblem({ status: () => answer.status, headers: () => answer.headers, body: async () => answer.body });
    return String(problem.detail);
  }

  test('a third connection from one address is a 503 that says so, while other addresses are served up to the cap', async () => {
    const held: HeldConnection[] = [];
    try {
      // 127.0.0.1 may still hold the start's /health poll connection for a few seconds: it is the one
      // address the test does not fill first.
      held.push(await hold('127.0.0.2'), await hold('127.0.0.2'));
      expect(await refused('127.0.0.2')).toMatch(/^Your address already holds its most connections to this server at once \(2\)\. Retry after/);
      held.push(await hold('127.0.0.3'));
      await expect.poll(async () => (await exchange(port, `${request}Connection: close\r\n\r\n`, { localAddress: '127.0.0.4' })).answers[0]?.status).toBe(200);
      held.push(await hold('127.0.0.4'));
      expect(await refused('127.0.0.5')).toMatch(/^This server already holds its most connections at once \(4\)\. Retry after/);
      // One of 127.0.0.2's freed: it may connect again (once the server has seen the close).
      await held.shift()!.close();
      await held.pop()!.close();
      await expect.poll(async () => (await exchange(port, `${request}Connection: close\r\n\r\n`, { localAddress: '127.0.0.2' })).answers[0]?.status).toBe(200);
    } finally {
      await Promise.all(held.map((connection) => connection.close()));
    }
  });
});
