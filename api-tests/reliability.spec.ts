/**
 * Reliability, each against a service process of the test's own (support/own-server.ts), so the
 * shared server other workers use is never saturated, cut off from its database or stopped.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { request as playwrightRequest, type APIRequestContext } from '@playwright/test';
import pg from 'pg';
import { makeTempDataDir, startEmbeddedPostgres, type EmbeddedDatabase } from '../db/embedded.js';
import { freePort } from '../scripts/free-port.js';
import { ApiClient, expect, newCall, test } from './support/fixtures.js';
import { startOwnServer, type OwnServer } from './support/own-server.js';
import { scratchDatabase } from './support/scratch-database.js';
import { signToken } from './support/tokens.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An `api`-like client (every answer checked against openapi.yaml) for an own server. */
async function clientFor(server: OwnServer): Promise<{ api: ApiClient; context: APIRequestContext }> {
  const context = await playwrightRequest.newContext({
    baseURL: server.baseURL,
    extraHTTPHeaders: { Accept: 'application/json, application/problem+json' },
  });
  return { api: new ApiClient(context, signToken()), context };
}

/** Opens a transaction holding an ACCESS EXCLUSIVE lock on `calls`: every query on it waits. */
async function lockCalls(url: string): Promise<{ release: () => Promise<void> }> {
  const client = new pg.Client({ connectionString: url, application_name: 'reliability-lock' });
  client.on('error', (error) => console.warn(`lock session: ${error.message}`));
  await client.connect();
  await client.query('BEGIN');
  await client.query('LOCK TABLE calls IN ACCESS EXCLUSIVE MODE');
  return {
    release: async () => {
      await client.query('COMMIT');
      await client.end();
    },
  };
}

/** How many sessions wait on the lock (i.e. how many server connections are stuck behind it). */
async function blockedSessions(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(
      // The scratch database only: the cluster-wide view also holds the shared test server's sessions.
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE application_name = 'call-coach-api' AND wait_event_type = 'Lock' AND datname = current_database()`,
    );
    return rows[0]!.n;
  } finally {
    await client.end();
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** The sample of `name` with exactly `labels`, apart from the `instance` label every series carries. */
function metricValue(text: string, name: string, labels = ''): number | undefined {
  const withoutInstance = (line: string) => line.replace(/(\{|,)instance="[^"]*"(,?)/, (_, before, after) => (before === '{' ? '{' : after)).replace('{}', '');
  const line = text.split('\n').map(withoutInstance).find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

test.describe('reliability', { tag: ['@integration', '@slow'] }, () => {
  test('a saturated pool answers 503 with Retry-After within the acquisition timeout, and recovers', async ({ db }) => {
    const scratch = await scratchDatabase(db);
    const acquireTimeoutMs = 500;
    const server = await startOwnServer({
      database: { url: scratch.url },
      env: { DB_POOL_MAX: '2', DB_ACQUIRE_TIMEOUT_MS: String(acquireTimeoutMs), DB_STATEMENT_TIMEOUT_MS: '30000' },
    });
    const { api, context } = await clientFor(server);
    let lock: { release: () => Promise<void> } | undefined;
    try {
      const call = await (await api.post('/calls', newCall())).json();
      lock = await lockCalls(scratch.url);
      // Two requests take both connections and wait on the lock.
      const holders = [api.get(`/calls/${call.id}`), api.get(`/calls/${call.id}`)];
      await until('both pool connections blocked', async () => (await blockedSessions(scratch.url)) === 2);

      const started = performance.now();
      const rejected = await Promise.all(Array.from({ length: 5 }, () => api.get(`/calls/${call.id}`)));
      const elapsed = performance.now() - started;
      for (const response of rejected) {
        expect(response.status()).toBe(503);
        expect(Number(response.headers()['retry-after'])).toBeGreaterThanOrEqual(1);
        expect((await response.json()).detail).toContain(`${acquireTimeoutMs} ms`);
      }
      // Bounded: the answer comes from the acquisition timeout, not from a hang.
      expect(elapsed).toBeLessThan(acquireTimeoutMs + 2_000);
      test.info().annotations.push({ type: 'time to 503 (5 requests)', description: `${Math.round(elapsed)} ms` });

      const ready = await api.get('/ready');
      expect(ready.status()).toBe(503);
      const metrics = await (await api.get('/metrics')).text();
      expect(metricValue(metrics, 'call_coach_db_pool_connections', '{state="active"}')).toBe(2);
      expect(
        metricValue(metrics, 'call_coach_http_requests_total', '{operation_id="getCall",method="GET",status="503"}'),
      ).toBe(5);

      await lock.release();
      lock = undefined;
      for (const holder of holders) expect((await holder).status()).toBe(200);
      const after = await Promise.all(Array.from({ length: 10 }, () => api.get(`/calls/${call.id}`)));
      expect(after.map((r) => r.status())).toEqual(Array(10).fill(200));
      expect((await api.get('/ready')).status()).toBe(200);
      expect(server.output()).not.toContain('"level":60'); // nothing fatal
    } finally {
      await lock?.release().catch(() => {});
      await context.dispose();
      await server.stop();
      await scratch.drop();
    }
  });

  test('a database restart under load: not ready, then recovered without a restart; every 201 is stored', async () => {
    const dataDir = await makeTempDataDir('call-coach-restart-');
    const port = await freePort();
    const startDatabase = () =>
      startEmbeddedPostgres({ dataDir, port, databaseName: 'call_coach', ephemeral: false, log: () => {} });
    let database: EmbeddedDatabase | undefined = await startDatabase();
    const server = await startOwnServer({
      database: { url: database.url },
      env: { DB_POOL_MAX: '4', DB_ACQUIRE_TIMEOUT_MS: '1000', DB_CONNECT_TIMEOUT_MS: '1000' },
    });
    const { api, context } = await clientFor(server);
    const acknowledged: string[] = [];
    const statuses = new Map<number, number>();
    let loading = true;
    try {
      const worker = async () => {
        while (loading) {
          const response = await api.post('/calls', newCall());
          statuses.set(response.status(), (statuses.get(response.status()) ?? 0) + 1);
          if (response.status() === 201) acknowledged.push((await response.json()).id);
          await sleep(20);
        }
      };
      const load = Promise.all(Array.from({ length: 4 }, worker));
      await sleep(1_000);

      const stopping = performance.now();
      await database.stop();
      database = undefined;
      const notReady = await until('/ready to report 503', async () => {
        const response = await api.get('/ready');
        return response.status() === 503 ? response : undefined;
      });
      expect((await notReady.json()).status).toBe('not_ready');
      const notReadyMs = performance.now() - stopping;
      await sleep(1_500); // load keeps coming while the database is down

      database = await startDatabase();
      const restarted = performance.now();
      await until('/ready to report 200 again', async () => (await api.get('/ready')).status() === 200);
      const recoveryMs = performance.now() - restarted;
      const before = acknowledged.length;
      await until('writes to succeed again', async () => acknowledged.length >= before + 10);
      loading = false;
      await load;

      test.info().annotations.push(
        { type: 'not ready after stop', description: `${Math.round(notReadyMs)} ms` },
        { type: 'ready after start', description: `${Math.round(recoveryMs)} ms` },
        { type: 'statuses', description: JSON.stringify(Object.fromEntries(statuses)) },
      );
      // Only acknowledged writes and "retry later" answers: no 500s, no hangs.
      expect([...statuses.keys()].sort()).toEqual([201, 503]);
      // The same process served throughout: it never exited (a restart would be another process).
      expect(await Promise.race([server.exited.then(() => 'exited'), sleep(0).then(() => 'running')])).toBe('running');

      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM calls WHERE id = ANY($1::uuid[])', [
          acknowledged,
        ]);
        expect(rows[0]!.n).toBe(acknowledged.length);
      } finally {
        await client.end();
      }
    } finally {
      loading = false;
      await context.dispose();
      await server.stop();
      await database?.stop();
      await rm(path.dirname(dataDir), { recursive: true, force: true });
    }
  });

  test('SIGTERM stops accepting, finishes in-flight requests, closes the pool and stops the embedded database', async () => {
    const server = await startOwnServer({ database: 'embedded' });
    const { api, context } = await clientFor(server);
    const port = Number(/"port":(\d+)/.exec(server.output())?.[1] ?? 0);
    const dataDir = /"dataDir":"([^"]+)"/.exec(server.output())?.[1] ?? '';
    expect(port).toBeGreaterThan(0);
    const url = `postgres://postgres:postgres@127.0.0.1:${port}/call_coach`;
    let lock: { release: () => Promise<void> } | undefined;
    try {
      const call = await (await api.post('/calls', newCall())).json();
      lock = await lockCalls(url);
      const inFlight = [api.get(`/calls/${call.id}`), api.post('/calls', newCall())];
      await until('in-flight requests to reach the database', async () => (await blockedSessions(url)) === 2);

      const signalled = performance.now();
      const stopped = server.stop();
      // Stops accepting: a new connection is refused while the in-flight ones are still running.
      await until('the listener to close', () =>
        fetch(`${server.baseURL}/health`).then(
          () => false,
          (error: Error & { cause?: { code?: string } }) => error.cause?.code === 'ECONNREFUSED',
        ),
      );
      await sleep(300);
      await lock.release();
      lock = undefined;
      const [read, created] = await Promise.all(inFlight);
      expect(read!.status()).toBe(200);
      expect(created!.status()).toBe(201);
      const answered = performance.now() - signalled;
      const exit = await stopped;
      const drainMs = performance.now() - signalled;
      test.info().annotations.push(
        { type: 'SIGTERM to in-flight answers (incl. 300 ms lock held)', description: `${Math.round(answered)} ms` },
        { type: 'SIGTERM to exit', description: `${Math.round(drainMs)} ms` },
      );
      expect(exit).toEqual({ code: 0, signal: null });
      expect(server.output()).toContain('"msg":"stopped"');
      expect(server.output()).not.toContain('closing the pool failed');
      // The embedded database is gone with it (stopped, throwaway folder deleted).
      const refused = await new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 }).connect().then(
        () => false,
        () => true,
      );
      expect(refused).toBe(true);
      expect(existsSync(dataDir)).toBe(false);
    } finally {
      await lock?.release().catch(() => {});
      await context.dispose();
      await server.stop();
    }
  });
});
