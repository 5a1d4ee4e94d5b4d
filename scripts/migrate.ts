/** `npm run db:migrate`: applies pending migrations to MIGRATION_DATABASE_URL, else DATABASE_URL (or the embedded database). */
import { migrate } from '../db/migrate.js';
import { loadConfig } from '../server/config.js';
import { resolveDatabase, type DatabaseTarget } from '../server/database-startup.js';
import { createLogger } from '../server/logger.js';
import { describeStartupFailure, type StartupStage } from '../server/startup-errors.js';

let stage: StartupStage = 'config';
let target: DatabaseTarget | undefined;
try {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  stage = 'database';
  target = await resolveDatabase(config, logger);
  stage = 'migrate';
  const applied = await migrate(config.migrationDatabaseUrl ?? target.url);
  console.log(applied.length ? `Applied ${applied.join(', ')}` : 'Nothing to apply: the schema is up to date.');
} catch (error) {
  // The same one-line reasons as a failed `npm start`, without a stack trace.
  console.error(describeStartupFailure(error, { stage, databaseUrl: target?.url ?? process.env.DATABASE_URL }).message);
  process.exitCode = 1;
} finally {
  await target?.stop();
}
