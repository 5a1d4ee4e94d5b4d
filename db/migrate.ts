import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

// Relative to the project root, not to this file: the same line runs from db/migrate.ts and from the
// bundle dist/server.js, both one directory below the root.
export const MIGRATIONS_DIR = fileURLToPath(new URL('../db/migrations/', import.meta.url));

// Any constant works; it only has to be the same for every instance of this service.
const MIGRATION_LOCK_KEY = 7_241_903_118;
const FILE_NAME = /^(\d{3})_([a-z0-9_]+)\.sql$/;

export type Migration = { version: string; name: string; file: string; sql: string; checksum: string };

export class MigrationChecksumError extends Error {
  constructor(readonly migration: Migration, recorded: string) {
    super(
      `Migration ${migration.file} was edited after it was applied (checksum ${recorded} recorded, ` +
        `${migration.checksum} on disk). Add a new migration instead of editing an applied one.`,
    );
    this.name = 'MigrationChecksumError';
  }
}

export async function readMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((file) => file.endsWith('.sql')).sort();
  return Promise.all(
    files.map(async (file) => {
      const match = FILE_NAME.exec(file);
      if (!match) throw new Error(`Migration file ${file} is not named NNN_name.sql`);
      const text = await readFile(path.join(dir, file), 'utf8');
      const checksum = createHash('sha256').update(text).digest('hex');
      return { version: match[1]!, name: match[2]!, file, sql: text, checksum };
    }),
  );
}

/**
 * Applies pending migrations in order, each in its own transaction, recorded with its checksum
 * in `schema_migrations`. Returns the files it applied.
 *
 * Every transaction first takes a transaction-scoped advisory lock, so two starting instances
 * cannot race, also through a transaction pooler (PgBouncer in transaction mode), where a
 * session-level lock and the statements after it may land on different server connections.
 * A migration runs without the service's statement timeout (a role default may set one).
 *
 * This is the one place that talks to PostgreSQL through a plain `pg` client instead of the
 * Slonik pool: a migration file is a multi-statement script, which Slonik refuses by design.
 */
export async function migrate(databaseUrl: string, dir = MIGRATIONS_DIR): Promise<string[]> {
  const migrations = await readMigrations(dir);
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'call-coach-migrate' });
  await client.connect();
  /** Runs `work` in one transaction that holds the migration lock. */
  const locked = async <T>(work: () => Promise<T>): Promise<T> => {
    await client.query('BEGIN');
    try {
      await client.query("SELECT pg_advisory_xact_lock($1), set_config('statement_timeout', '0', true)", [MIGRATION_LOCK_KEY]);
      const result = await work();
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
  };
  try {
    await locked(() =>
      client.query(`
        CREATE TABLE IF NOT EXISTS schema_migrations (
          version    text PRIMARY KEY,
          name       text NOT NULL,
          checksum   text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )`),
    );
    const done: string[] = [];
    for (const migration of migrations) {
      // Read under the lock: another instance may have applied it since this one started.
      const applied = await locked(async () => {
        const { rows } = await client.query<{ checksum: string }>('SELECT checksum FROM schema_migrations WHERE version = $1', [
          migration.version,
        ]);
        const recorded = rows[0]?.checksum;
        if (recorded !== undefined) {
          if (recorded !== migration.checksum) throw new MigrationChecksumError(migration, recorded);
          return false;
        }
        try {
          await client.query(migration.sql); // simple protocol: the whole file, as psql would run it
        } catch (error) {
          throw new Error(`Migration ${migration.file} failed and was rolled back: ${(error as Error).message}`, { cause: error });
        }
        await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
          migration.version,
          migration.name,
          migration.checksum,
        ]);
        return true;
      });
      if (applied) done.push(migration.file);
    }
    return done;
  } finally {
    await client.end();
  }
}
