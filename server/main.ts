import type { Server } from 'node:http';
import v8 from 'node:v8';
import { migrate } from '../db/migrate.js';
import type { Database } from '../db/pool.js';
import { createApp } from './app.js';
import { answerClientErrors } from './client-errors.js';
import { loadConfig, type Config } from './config.js';
import { boundConnections, createHttpServer } from './connections.js';
import { openPool, resolveDatabase, type DatabaseTarget } from './database-startup.js';
import { startGongSyncWorker } from './gong-sync-worker.js';
import { createLogger, type Logger } from './logger.js';
import { listenForMetrics } from './metrics-access.js';
import { describeStartupFailure, type StartupContext, type StartupStage } from './startup-errors.js';

// Under load V8 lets the old generation grow up to 4x between full collections; a fixed 2.5x keeps
// the process ~40-50 MB smaller at no throughput or p99 we could measure (docs/benchmarks.md). Set
// here rather than on the command line: a flag a future V8 drops is ignored, not a failed start.
v8.setFlagsFromString('--heap-growing-percent=150');

const started = performance.now();

// Every failure to start is one `fatal` JSON line saying what failed and what to do, then exit 1
// (server/startup-errors.ts words it): never a stack trace. What was started is stopped first.
let logger: Logger = createLogger('info');
const context: StartupContext = { stage: 'config' };
const startedParts: Array<() => Promise<void>> = [];
async function failStart(stage: StartupStage, error: unknown): Promise<never> {
  const failure = describeStartupFailure(error, { ...context, stage });
  logger.fatal({ stage, error: failure.error }, failure.message);
  for (const stop of startedParts.reverse()) await stop().catch(() => {});
  process.exit(1);
}
async function step<T>(stage: StartupStage, run: () => T | Promise<T>): Promise<T> {
  context.stage = stage;
  try {
    return await run();
  } catch (error) {
    return failStart(stage, error);
  }
}
const onUncaught = (error: unknown) => void failStart('unexpected', error);
process.on('uncaughtException', onUncaught);
// Stopped while starting: stop what already runs (the embedded database) and leave quietly.
const stopWhileStarting = async () => {
  for (const stop of startedParts.reverse()) await stop().catch(() => {});
  process.exit(0);
};
process.once('SIGTERM', stopWhileStarting);
process.once('SIGINT', stopWhileStarting);
process.once('SIGHUP', stopWhileStarting);

const config: Config = await step('config', () => {
  const loaded = loadConfig();
  logger = createLogger(loaded.logLevel);
  return loaded;
});
Object.assign(context, { databaseUrl: config.databaseUrl, host: config.host, port: config.port, embeddedPort: config.embedded.port });

const target: DatabaseTarget = await step('database', () => resolveDatabase(config, logger));
startedParts.push(() => target.stop());
context.databaseUrl = target.url;
const db: Database = await step('pool', () => openPool(target.url, config));
startedParts.push(() => db.end());
if (config.migrateOnStart) {
  context.databaseUrl = config.migrationDatabaseUrl ?? target.url;
  const applied = await step('migrate', () => migrate(context.databaseUrl!));
  logger.info({ applied }, applied.length ? 'migrations applied' : 'schema up to date');
}

const gongSync = await step('app', () => startGongSyncWorker({ config, db, logger }));
startedParts.push(() => gongSync.stop());
const app = await step('app', () => createApp({ config, db, logger, gongSync }));
const server: Server = await step(
  'listen',
  () =>
    new Promise<Server>((resolve, reject) => {
      const listening = createHttpServer(app.callback()).listen(config.port, config.host);
      boundConnections(listening, config.connections, logger, 'api');
      answerClientErrors(listening, app.callback(), logger);
      listening.once('error', reject);
      listening.once('listening', () => {
        listening.off('error', reject);
        resolve(listening);
      });
    }),
);
// METRICS_PORT: the metrics' own listener (a port in use fails the start like the API's would).
const metricsServer = config.metrics.port === undefined ? undefined : await step('listen', () => listenForMetrics(config, app.metrics, logger));
process.off('uncaughtException', onUncaught);
process.off('SIGTERM', stopWhileStarting);
process.off('SIGINT', stopWhileStarting);
process.off('SIGHUP', stopWhileStarting);
{
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info(
    { url: `http://${config.host}:${port}`, docs: `http://${config.host}:${port}/docs`, startup_ms: Math.round(performance.now() - started) },
    'Call Coach API listening',
  );
}

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
  // No request is being answered any more: the hits counted locally since the last flush go to PostgreSQL.
  await app.drainRateLimits().catch((error: unknown) => logger.error({ err: error }, 'writing the last rate limit counts failed'));
  await db.end().catch((error: unknown) => logger.error({ err: error }, 'closing the pool failed'));
  await target.stop().catch((error: unknown) => logger.error({ err: error }, 'stopping embedded PostgreSQL failed'));
  logger.info('stopped');
  process.exit(0);
}

process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
// A closed terminal: without this Node would die at once and leave the embedded database running.
process.on('SIGHUP', () => void shutdown('SIGHUP'));
