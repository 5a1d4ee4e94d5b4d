/**
 * Holding requests in flight, honestly: the test's own PostgreSQL session takes a lock a request
 * needs, so the request really is running (inside its transaction) and waiting, until the test
 * releases it. `blockedBy` tells when the server's sessions have reached the lock.
 */
import pg from 'pg';
import { testEnvironment } from './test-environment.js';

export type HeldLock = { pid: number; release: () => Promise<void> };

/** Opens a transaction on a session of its own and runs `statement` (e.g. SELECT … FOR UPDATE) in it. */
export async function holdLock(statement: string, values: unknown[] = []): Promise<HeldLock> {
  const client = new pg.Client({ connectionString: testEnvironment().databaseUrl, application_name: 'call-coach-test-lock' });
  client.on('error', (error) => console.warn(`lock session: ${error.message}`));
  await client.connect();
  await client.query('BEGIN');
  await client.query(statement, values);
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  let released = false;
  return {
    pid: rows[0]!.pid,
    release: async () => {
      if (released) return;
      released = true;
      await client.query('ROLLBACK');
      await client.end();
    },
  };
}

/** How many sessions (the server's: no one else waits for the test's lock) wait, directly or not, for `pid`. */
async function sessionsBlockedBy(pid: number): Promise<number> {
  const client = new pg.Client({ connectionString: testEnvironment().databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(
      // Transitively: behind a row lock, the second waiter waits for the first one's tuple lock.
      `WITH RECURSIVE blocked(pid) AS (
         SELECT pid FROM pg_stat_activity WHERE $1::int = ANY (pg_blocking_pids(pid))
         UNION
         SELECT a.pid FROM pg_stat_activity a JOIN blocked b ON b.pid = ANY (pg_blocking_pids(a.pid)))
       SELECT count(*)::int AS n FROM blocked`,
      [pid],
    );
    return rows[0]!.n;
  } finally {
    await client.end();
  }
}

/** Resolves once `count` server sessions wait on `lock` (polled; fails after `timeoutMs`). */
export async function untilBlocked(lock: HeldLock, count: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await sessionsBlockedBy(lock.pid)) < count) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} server session(s) to wait on the test's lock`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
