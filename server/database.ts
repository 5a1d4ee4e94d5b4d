import { startEmbeddedPostgres } from '../db/embedded.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';

export type DatabaseTarget = { url: string; embedded: boolean; stop: () => Promise<void> };

/** DATABASE_URL when set; otherwise our own embedded PostgreSQL, started now. */
export async function resolveDatabase(config: Config, logger: Logger): Promise<DatabaseTarget> {
  if (config.databaseUrl) return { url: config.databaseUrl, embedded: false, stop: async () => {} };
  const started = performance.now();
  const instance = await startEmbeddedPostgres({
    ...config.embedded,
    log: (message) => logger.info(message),
  });
  logger.info(
    { port: config.embedded.port, dataDir: config.embedded.dataDir, ms: Math.round(performance.now() - started) },
    'embedded PostgreSQL started (no DATABASE_URL set)',
  );
  return { url: instance.url, embedded: true, stop: instance.stop };
}
