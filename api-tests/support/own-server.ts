/**
 * A service process of a test's own, for tests that would disturb the shared server (pool
 * saturation, database restarts, shutdown): `node dist/server.js` (the bundle the shared
 * webServer built; the sources in a coverage run, see SERVER_NODE_ARGS) on a free port,
 * with its own database and settings. Always stop it (`stop()` in `finally`).
 *
 *   database: { url }      -> DATABASE_URL (e.g. a scratch database, or an embedded PostgreSQL the
 *                             test runs itself so it can stop and start it)
 *   database: 'embedded'   -> the server starts a throwaway embedded PostgreSQL of its own
 */
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../scripts/free-port.js';
import { startServerProcess, type Exit, type ServerProcess } from '../../scripts/server-process.js';
import { SERVER_NODE_ARGS, TEST_JWT_SECRET } from './test-environment.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

export type OwnServerOptions = {
  database: { url: string } | 'embedded';
  /** More variables for the service (DB_POOL_MAX, DB_ACQUIRE_TIMEOUT_MS, …). */
  env?: Record<string, string>;
  /** How long to wait for /health. */
  startTimeoutMs?: number;
};

export type { Exit };
export type OwnServer = Pick<ServerProcess, 'baseURL' | 'pid' | 'output' | 'exited' | 'stop'>;

export async function startOwnServer(options: OwnServerOptions): Promise<OwnServer> {
  const databaseEnv: Record<string, string> =
    options.database === 'embedded'
      ? {
          EMBEDDED_PG_PORT: String(await freePort()),
          EMBEDDED_PG_DIR: path.join(tmpdir(), `call-coach-own-${randomUUID()}`),
          EMBEDDED_PG_DATABASE: 'call_coach',
          EMBEDDED_PG_EPHEMERAL: 'true',
        }
      : { DATABASE_URL: options.database.url };
  return startServerProcess({
    name: 'own server',
    args: SERVER_NODE_ARGS,
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      JWT_SECRET: TEST_JWT_SECRET,
      LOG_LEVEL: 'info',
      ...databaseEnv,
      ...options.env,
    },
    ...(options.startTimeoutMs === undefined ? {} : { startTimeoutMs: options.startTimeoutMs }),
  });
}
