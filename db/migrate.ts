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
 * in `schema_migrations`. An advisory lock keeps two starting instances from racing.
 * Returns the files it applied.
 *
 * This is the one place that talks to PostgreSQL through a plain `pg` client instead of the
 * Slonik pool: a migration file is a multi-statement script, which Slonik refuses by design.
 */
export async function migrate(databaseUrl: string, dir = MIGRATIONS_DIR): Promise<string[]> {
  const migrations = await readMigrations(dir);
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'call-coach-migrate' });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version    text PRIMARY KEY,
        name       text NOT NULL,
        checksum   text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const { rows } = await client.query<{ version: string; checksum: string }>(
      'SELECT version, checksum FROM schema_migrations',
    );
    const applied = new Map(rows.map((row) => [row.version, row.checksum]));
    const done: string[] = [];
    for (const migration of migrations) {
      const recorded = applied.get(migration.version);
      if (recorded !== undefined) {
        if (recorded !== migration.checksum) throw new MigrationChecksumError(migration, recorded);
        continue;
      }
      try {
        await client.query('BEGIN');
        await client.query(migration.sql); // simple protocol: the whole file, as psql would run it
        await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
          migration.version,
          migration.name,
          migration.checksum,
        ]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new Error(`Migration ${migration.file} failed and was rolled back: ${(error as Error).message}`, {
          cause: error,
        });
      }
      done.push(migration.file);
    }
    return done;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
    await client.end();
  }
}
