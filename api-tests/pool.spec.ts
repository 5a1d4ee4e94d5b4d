import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { DeadlineError, PoolTimeoutError } from '../db/errors.js';
import { APPLICATION_NAME, createDatabase, DEADLINE_MARGIN_MS, type Database } from '../db/pool.js';
import { expect, newCall, sql, test } from './support/fixtures.js';
import { scratchDatabase } from './support/scratch-database.js';
import { testEnvironment } from './support/test-environment.js';

/** A pool of the service's own kind (db/pool.ts), named so its sessions can be counted. */
async function namedPool(maxConnections: number, acquireTimeoutMs = 10_000): Promise<{ db: Database; name: string }> {
  const name = `pool-test-${randomUUID().slice(0, 8)}`;
  const url = new URL(testEnvironment().databaseUrl);
  url.searchParams.set('application_name', name);
  const db = await createDatabase({ url: url.toString(), maxConnections, acquireTimeoutMs, statementTimeoutMs: 30_000, connectTimeoutMs: 5_000 });
  return { db, name };
}

/** Samples how many sessions `applicationName` holds in the test database, from its own connection, until stopped. */
async function sampleSessions(applicationName: string): Promise<{ stop: () => Promise<number> }> {
  const client = new pg.Client({ connectionString: testEnvironment().databaseUrl, application_name: 'pool-test-sampler' });
  await client.connect();
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const { rows } = await client.query<{ n: number }>(
        // This database only: pg_stat_activity spans the cluster, and other suites run servers with
        // the same application_name against scratch databases on it (reliability.spec.ts).
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()',
        [applicationName],
      );
      peak = Math.max(peak, rows[0]!.n);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      await client.end();
      return peak;
    },
  };
}

test.describe('connection pool', { tag: ['@integration', '@slow'] }, () => {
  test('50 concurrent queries all succeed with their own results, on reused connections', async () => {
    const { db } = await namedPool(10);
    try {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          db.connect((c) => c.one(sql.unsafe`SELECT ${i}::int AS n, pg_backend_pid() AS pid, pg_sleep(0.02)`)),
        ),
      );
      expect(results.map((row) => row.n)).toEqual(Array.from({ length: 50 }, (_, i) => i));
      const backends = new Set(results.map((row) => row.pid));
      // 50 queries, at most 10 sessions: connections were handed back and reused.
      expect(backends.size).toBeGreaterThan(1);
      expect(backends.size).toBeLessThanOrEqual(10);
    } finally {
      await db.end();
    }
  });

  test('20 concurrent inserting transactions finish without deadlock and all persist', async ({ trackCall }) => {
    const { db } = await namedPool(10);
    try {
      const prefix = `Concurrent ${randomUUID().slice(0, 8)}`;
      const ids = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          db.transaction(async (tx) => {
            const id = await tx.oneFirst(sql.unsafe`
              INSERT INTO calls (gong_call_id, title, scheduled_at)
              VALUES (${String(BigInt(Date.now()) * 100n + BigInt(i))}, ${`${prefix} ${i}`}, now()) RETURNING id`);
            await tx.query(sql.unsafe`
              INSERT INTO speakers (call_id, name, role, company_side) VALUES (${id}, 'Rep', 'ae', true)`);
            return id as string;
          }),
        ),
      );
      ids.forEach(trackCall);
      const stored = await db.connect((c) =>
        c.oneFirst(sql.unsafe`
          SELECT count(*)::int FROM calls c JOIN speakers s ON s.call_id = c.id WHERE c.title LIKE ${`${prefix} %`}`),
      );
      expect(stored).toBe(20);
    } finally {
      await db.end();
    }
  });

  test('the pool never opens more than its configured maximum', async () => {
    const { db, name } = await namedPool(5);
    const sampler = await sampleSessions(name);
    let peakState = 0;
    try {
      await Promise.all(
        Array.from({ length: 40 }, () =>
          db.connect(async (c) => {
            peakState = Math.max(peakState, db.state().total);
            await c.query(sql.unsafe`SELECT pg_sleep(0.05)`);
          }),
        ),
      );
    } finally {
      const peakSessions = await sampler.stop();
      await db.end();
      expect(peakSessions).toBeGreaterThan(0);
      expect(peakSessions).toBeLessThanOrEqual(5);
      expect(peakState).toBeLessThanOrEqual(5);
    }
  });

  test('a query that cannot get a connection in time fails fast with PoolTimeoutError, and the pool recovers', async () => {
    const { db } = await namedPool(1, 300);
    try {
      const holder = db.connect((c) => c.query(sql.unsafe`SELECT pg_sleep(1.5)`));
      await expect.poll(() => db.state().active, { message: 'the holder has the only connection' }).toBe(1);
      const started = performance.now();
      await expect(db.connect((c) => c.oneFirst(sql.unsafe`SELECT 1`))).rejects.toBeInstanceOf(PoolTimeoutError);
      const waited = performance.now() - started;
      expect(waited).toBeGreaterThanOrEqual(250);
      expect(waited).toBeLessThan(1200);
      await holder;
      expect(await db.connect((c) => c.oneFirst(sql.unsafe`SELECT 1`))).toBe(1);
      expect(db.state().waiting).toBe(0);
    } finally {
      await db.end();
    }
  });

  test('200 concurrent GETs through the server all succeed within its pool maximum', async ({ api, trackCall }) => {
    const call = await (await api.post('/calls', newCall())).json();
    trackCall(call.id);
    const sampler = await sampleSessions(APPLICATION_NAME);
    let responses;
    try {
      responses = await Promise.all(Array.from({ length: 200 }, () => api.get(`/calls/${call.id}`)));
    } finally {
      const peak = await sampler.stop();
      expect(peak).toBeLessThanOrEqual(10); // DB_POOL_MAX of the server under test
    }
    expect(responses.map((r) => r.status())).toEqual(Array(200).fill(200));
    for (const response of responses.slice(0, 5)) expect((await response.json()).id).toBe(call.id);
  });
});

test.describe('a transaction within its deadline', { tag: '@integration' }, () => {
  test('retried after a serialization failure at COMMIT, it runs within what is left of the same deadline, and nothing of it is committed', async ({ db }) => {
    const scratch = await scratchDatabase(db);
    const other = new pg.Client({ connectionString: scratch.url });
    await other.connect();
    const bounded = await createDatabase({ url: scratch.url, maxConnections: 1, acquireTimeoutMs: 500, statementTimeoutMs: 1000, connectTimeoutMs: 5000 });
    const deadlineMs = 500 + 1000 + DEADLINE_MARGIN_MS;
    try {
      await other.query('CREATE TABLE skew (k text NOT NULL)');
      const attempts: string[] = [];
      const outcome = bounded.transaction(async (t) => {
        attempts.push('began');
        await t.query(sql.unsafe`SET TRANSACTION ISOLATION LEVEL SERIALIZABLE`);
        await t.query(sql.unsafe`SELECT count(*) FROM skew WHERE k = 'a'`);
        if (attempts.length === 1) {
          // Write skew with a concurrent transaction that commits first: each reads what the other
          // writes, so PostgreSQL fails this one's COMMIT (40001, "during commit attempt").
          await other.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
          await other.query("SELECT count(*) FROM skew WHERE k = 'b'");
          await t.query(sql.unsafe`INSERT INTO skew VALUES ('b')`);
          await other.query("INSERT INTO skew VALUES ('a')");
          await other.query('COMMIT');
          attempts.push('reached COMMIT');
        } else {
          // The retry: a statement the server does not cancel (no statement timeout here), past the deadline.
          await t.query(sql.unsafe`SELECT pg_sleep(${(deadlineMs + 1000) / 1000})`);
          await t.query(sql.unsafe`INSERT INTO skew VALUES ('c')`);
        }
        return 'committed';
      });
      await expect(outcome, 'the retry is bounded by the deadline').rejects.toBeInstanceOf(DeadlineError);
      expect(attempts, 'the first attempt failed at its COMMIT and was retried').toEqual(['began', 'reached COMMIT', 'began']);
      // The retry went on in the background: once it has handed its connection back, nothing of it is there.
      await expect.poll(() => bounded.state().active, { timeout: 10_000 }).toBe(0);
      expect((await other.query('SELECT k FROM skew ORDER BY k')).rows).toEqual([{ k: 'a' }]);
      expect(await bounded.connect((c) => c.oneFirst(sql.unsafe`SELECT 1`)), 'the connection was kept, clean').toBe(1);
    } finally {
      await bounded.end();
      await other.end();
      await scratch.drop();
    }
  });
});
