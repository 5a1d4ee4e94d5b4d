import { startEmbeddedPostgres } from '../db/embedded.js';
import { createDatabase, type Database } from '../db/pool.js';
import { applySessionDefaults } from '../db/session-defaults.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';

/** The database the process uses, and how to stop it (a no-op unless it is our embedded one). */
export type DatabaseTarget = { url: string; stop: () => Promise<void> };

/** DATABASE_URL when set; otherwise our own embedded PostgreSQL, started now. */
export async function resolveDatabase(config: Config, logger: Logger): Promise<DatabaseTarget> {
  if (config.databaseUrl) return { url: config.databaseUrl, stop: async () => {} };
  const started = performance.now();
  const instance = await startEmbeddedPostgres({
    ...config.embedded,
    log: (message) => logger.info(message),
  });
  logger.info(
    { port: config.embedded.port, dataDir: config.embedded.dataDir, ms: Math.round(performance.now() - started) },
    'embedded PostgreSQL started (no DATABASE_URL set)',
  );
  return { url: instance.url, stop: instance.stop };
}

/**
 * The process's one pool, once it has opened a first connection and made the timeouts its role's
 * defaults in the database (db/session-defaults.ts): a wrong password, a missing database or a
 * pooler refusing the connection stop the start here, with a message, instead of failing every
 * request later.
 */
export async function openPool(url: string, config: Config): Promise<Database> {
  const db = await createDatabase({ url, ...config.pool });
  try {
    await db.pool.connect(async () => {});
    await applySessionDefaults(db, config.pool);
  } catch (error) {
    await db.end().catch(() => {});
    throw error;
  }
  return db;
}
