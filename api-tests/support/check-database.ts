/** Exits 0 when the database at argv[2] answers `SELECT 1`, else prints why and exits 1. */
import pg from 'pg';

const client = new pg.Client({ connectionString: process.argv[2], connectionTimeoutMillis: 5000 });
try {
  await client.connect();
  await client.query('SELECT 1');
  await client.end();
} catch (error) {
  console.error((error as Error).message || String(error));
  process.exit(1);
}
