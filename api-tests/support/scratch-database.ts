import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import type { Database } from '../../db/pool.js';
import { testEnvironment } from './test-environment.js';

export type ScratchDatabase = { url: string; name: string; drop: () => Promise<void> };

/**
 * An empty database next to the test database (for an own server, the migrator, a preflight
 * run), so what runs there cannot disturb, or be disturbed by, the shared one. Always `drop()` it.
 */
export async function scratchDatabase(db: Database): Promise<ScratchDatabase> {
  const name = `call_coach_scratch_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  await db.pool.query(sql.unsafe`CREATE DATABASE ${sql.identifier([name])}`);
  const url = new URL(testEnvironment().databaseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => void (await db.pool.query(sql.unsafe`DROP DATABASE IF EXISTS ${sql.identifier([name])} WITH (FORCE)`)),
  };
}
