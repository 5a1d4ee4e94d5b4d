/**
 * How database failures become HTTP answers (db/errors.ts, server/problem.ts), with failures that
 * a real PostgreSQL raises through the service's own kind of pool. These are the cases no request
 * should reach any more (the contract refuses bad values first) or that need a second session to
 * time them exactly; the reliability suite provokes the rest through HTTP (crashes, a full disk,
 * a deadlock). Class 08 (connection exceptions) is what a transaction pooler sends when it drops a
 * client: it goes through the service and a real PgBouncer.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { sql } from 'slonik';
import { createDatabase, type Database } from '../db/pool.js';
import { freePort } from '../scripts/free-port.js';
import { toProblem } from '../server/problem.js';
import { ApiClient, expect, newCall, test } from './support/fixtures.js';
import { startOwnServer } from './support/own-server.js';
import { pgbouncerVersion, startPgBouncer } from './support/pgbouncer.js';
import { scratchDatabase } from './support/scratch-database.js';
import { testEnvironment } from './support/test-environment.js';
import { signToken } from './support/tokens.js';

async function poolOn(url: string, options: { connectTimeoutMs?: number } = {}): Promise<Database> {
  return createDatabase({ url, maxConnections: 2, acquireTimeoutMs: 5_000, statementTimeoutMs: 10_000, connectTimeoutMs: options.connectTimeoutMs ?? 5_000 });
}

async function failure(work: () => Promise<unknown>): Promise<unknown> {
  return work().then(
    () => {
      throw new Error('expected the database to refuse this');
    },
    (error: unknown) => error,
  );
}

test.describe('database faults', { tag: '@integration' }, () => {
  // Class 22 (data exception): what a value the contract let through would meet.
  // Values bound as parameters, as the data modules bind request values.
  const invalidData: [string, () => ReturnType<typeof sql.unsafe>, RegExp][] = [
    ['a uuid with a prefix (22P02)', () => sql.unsafe`SELECT ${'urn:uuid:0f8e5d8c-7b1a-4c36-9d2e-6a4b7e1c2f90'}::uuid`, /not a valid uuid/],
    ['a number out of range (22003)', () => sql.unsafe`SELECT ${'1e308'}::numeric::integer`, /out of the range/],
    ['a date out of range (22008)', () => sql.unsafe`SELECT ${'294277-01-01T00:00:00Z'}::timestamptz`, /date-time/],
    ['a NUL byte (22021)', () => sql.unsafe`SELECT convert_from(${'\\x00'}::bytea, 'UTF8')`, /character the store cannot keep/],
    ['a division by zero (22012)', () => sql.unsafe`SELECT 1 / ${0}::int`, /SQLSTATE 22012/],
    ['broken JSON (22P02)', () => sql.unsafe`SELECT ${'{"a":'}::jsonb`, /not a valid json/],
  ];
  for (const [what, statement, detail] of invalidData) {
    test(`${what} is a 400 that names the kind of value, not the SQL`, async ({ db }) => {
      const error = await failure(() => db.pool.query(statement()));
      const problem = toProblem(error);
      expect(problem.status, String(error)).toBe(400);
      expect(problem.detail).toMatch(detail);
      expect(problem.detail).not.toMatch(/SELECT|::|\$1|urn:uuid|294277/);
    });
  }

  test('a serialization failure is retried once inside the transaction helper, then is a 503 with Retry-After', async ({ db }) => {
    const scratch = await scratchDatabase(db);
    const pool = await poolOn(scratch.url);
    const other = new pg.Client({ connectionString: scratch.url });
    await other.connect();
    try {
      await pool.pool.query(sql.unsafe`CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL)`);
      await pool.pool.query(sql.unsafe`INSERT INTO counter VALUES (1, 0)`);
      // In REPEATABLE READ, updating a row another session changed since our snapshot is 40001.
      const collide = async (transaction: Parameters<Parameters<Database['transaction']>[0]>[0]) => {
        await transaction.query(sql.unsafe`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ`);
        await transaction.query(sql.unsafe`SELECT n FROM counter WHERE id = 1`); // takes the snapshot
        await other.query('UPDATE counter SET n = n + 100 WHERE id = 1');
        await transaction.query(sql.unsafe`UPDATE counter SET n = n + 1 WHERE id = 1`);
      };

      let attempts = 0;
      await pool.transaction(async (transaction) => {
        attempts += 1;
        if (attempts === 1) await collide(transaction);
        else await transaction.query(sql.unsafe`UPDATE counter SET n = n + 1 WHERE id = 1`);
      });
      expect(attempts).toBe(2); // the first failed with 40001, the retry committed
      expect(await pool.pool.oneFirst(sql.unsafe`SELECT n FROM counter WHERE id = 1`)).toBe(101);

      attempts = 0;
      const error = await failure(() =>
        pool.transaction(async (transaction) => {
          attempts += 1;
          await collide(transaction);
        }),
      );
      expect(attempts).toBe(2); // one retry, no more
      expect((error as { code?: string }).code).toBe('40001');
      const problem = toProblem(error);
      expect(problem.status).toBe(503);
      expect(problem.extra.headers?.['Retry-After']).toBe('1');
      expect(problem.detail).toMatch(/collided with concurrent writes/);
      expect(await pool.pool.oneFirst(sql.unsafe`SELECT n FROM counter WHERE id = 1`)).toBe(301); // only the other session's
    } finally {
      await other.end();
      await pool.end();
      await scratch.drop();
    }
  });

  test('a backend terminated mid-statement (57P01) is a 503 with Retry-After', async ({ db }) => {
    const name = `fault-${randomUUID().slice(0, 8)}`;
    const scratch = await scratchDatabase(db);
    const url = new URL(scratch.url);
    url.searchParams.set('application_name', name);
    const pool = await poolOn(url.toString());
    try {
      const sleeping = failure(() => pool.connect((connection) => connection.query(sql.unsafe`SELECT pg_sleep(30)`)));
      await expect
        .poll(() => db.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM pg_stat_activity WHERE application_name = ${name} AND state = 'active'`))
        .toBe(1);
      await db.pool.query(sql.unsafe`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${name}`);
      const problem = toProblem(await sleeping);
      expect(problem.status).toBe(503);
      expect(Number(problem.extra.headers?.['Retry-After'])).toBeGreaterThanOrEqual(1);
      // The pool serves again at once.
      expect(await pool.pool.oneFirst(sql.unsafe`SELECT 1`)).toBe(1);
    } finally {
      await pool.end();
      await scratch.drop();
    }
  });

  test('a role over its connection limit (53300) and a refused connection are 503s with Retry-After', async ({ db }) => {
    const role = `fault_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    await db.pool.query(sql.unsafe`CREATE ROLE ${sql.identifier([role])} LOGIN PASSWORD 'fault' CONNECTION LIMIT 0`);
    const limited = new URL(testEnvironment().databaseUrl);
    limited.username = role;
    limited.password = 'fault';
    const refused = `postgres://postgres:postgres@127.0.0.1:${await freePort()}/none`;
    try {
      for (const url of [limited.toString(), refused]) {
        const error = await failure(async () => {
          const pool = await poolOn(url, { connectTimeoutMs: 2_000 });
          try {
            await pool.pool.query(sql.unsafe`SELECT 1`);
          } finally {
            await pool.end();
          }
        });
        const problem = toProblem(error);
        expect(problem.status, String(error)).toBe(503);
        expect(Number(problem.extra.headers?.['Retry-After'])).toBeGreaterThanOrEqual(1);
      }
    } finally {
      await db.pool.query(sql.unsafe`DROP ROLE IF EXISTS ${sql.identifier([role])}`);
    }
  });

  test('behind PgBouncer, a client connection the pooler drops (08P01, class 08) is a 503 with Retry-After, and the next request is served', async ({ db, playwright }) => {
    test.skip(!pgbouncerVersion() && !process.env.CI, 'pgbouncer is not installed (apt-get install pgbouncer)');
    const scratch = await scratchDatabase(db);
    // One server connection; a client waits at most 1 s for it, then PgBouncer drops the client
    // with FATAL 08P01 "query_wait_timeout" (well before the service's own deadline, 7.25 s).
    const pooler = await startPgBouncer(scratch.url, { poolSize: 1, settings: { query_wait_timeout: '1' } });
    const holder = new pg.Client({ connectionString: pooler.urlFor(scratch.url), application_name: 'class-08-holder' });
    holder.on('error', () => {}); // its own failure, if any, shows in the queries below
    const server = await startOwnServer({
      database: { url: pooler.urlFor(scratch.url) },
      env: { MIGRATION_DATABASE_URL: scratch.url, DB_POOL_MAX: '2' },
    }).catch(async (error: unknown) => {
      await pooler.stop();
      await scratch.drop();
      throw error;
    });
    const context = await playwright.request.newContext({
      baseURL: server.baseURL,
      extraHTTPHeaders: { Accept: 'application/json, application/problem+json' },
    });
    try {
      const api = new ApiClient(context, signToken());
      const created = await api.post('/calls', newCall());
      expect(created.status()).toBe(201);
      const call = await created.json();

      // A transaction keeps the pooler's only server connection to itself (transaction mode).
      await holder.connect();
      await holder.query('BEGIN');
      await holder.query('SELECT 1');
      const refused = await api.get(`/calls/${call.id}`);
      expect(refused.status()).toBe(503);
      expect(Number(refused.headers()['retry-after'])).toBeGreaterThanOrEqual(1);
      expect((await refused.json()).detail).toMatch(/connection to the database was lost; retry shortly/);
      // The service's log says why: the pooler's class 08 error, not a timeout of its own.
      expect(server.output()).toMatch(/08P01|query_wait_timeout/);

      await holder.query('ROLLBACK');
      // The dropped connection is replaced: the service serves again, without a restart.
      for (let i = 0; i < 3; i++) {
        const served = await api.get(`/calls/${call.id}`);
        expect(served.status(), `request ${i + 1} after the pooler freed its connection`).toBe(200);
        expect((await served.json()).id).toBe(call.id);
      }
    } finally {
      await holder.end().catch(() => {});
      await context.dispose();
      await server.stop();
      await pooler.stop();
      await scratch.drop();
    }
  });
});
