import pg from 'pg';
import { maskUrl, testEnvironment } from './test-environment.js';

export const CORE_TABLES = ['calls', 'speakers', 'transcripts', 'analyses'];

/**
 * Runs after the webServer is up (it migrates on start). Stops the run with a message a person
 * can act on when the database cannot be reached or its schema is missing.
 */
export default async function globalSetup(): Promise<void> {
  const { databaseUrl } = testEnvironment();
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`Test database not available at ${maskUrl(databaseUrl)}: ${(error as Error).message}`);
  }
  try {
    const { rows } = await client.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name = ANY($1)`,
      [CORE_TABLES],
    );
    const present = new Set(rows.map((row) => row.table_name));
    const missing = CORE_TABLES.filter((table) => !present.has(table));
    if (missing.length) {
      throw new Error(
        `Test database schema not initialized at ${maskUrl(databaseUrl)}: missing tables ${missing.join(', ')}.\n` +
          `Fix it with: DATABASE_URL='${maskUrl(databaseUrl)}' npm run db:migrate  (use the real password), ` +
          'or let the server migrate on start (unset MIGRATE_ON_START=false).',
      );
    }
  } finally {
    await client.end();
  }
}
