/** `npm run db:migrate`: applies pending migrations to MIGRATION_DATABASE_URL, else DATABASE_URL (or the embedded database). */
import { migrate } from '../db/migrate.js';
import { loadConfig } from '../server/config.js';
import { resolveDatabase } from '../server/database-startup.js';
import { createLogger } from '../server/logger.js';

const config = loadConfig();
const logger = createLogger(config.logLevel);
const target = await resolveDatabase(config, logger);
try {
  const applied = await migrate(config.migrationDatabaseUrl ?? target.url);
  console.log(applied.length ? `Applied ${applied.join(', ')}` : 'Nothing to apply: the schema is up to date.');
} catch (error) {
  console.error((error as Error).message);
  process.exitCode = 1;
} finally {
  await target.stop();
}
