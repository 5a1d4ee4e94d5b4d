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
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'slonik';
import { freePort } from '../../scripts/free-port.js';
import type { Database } from '../../db/pool.js';
import { SERVER_NODE_ARGS, TEST_JWT_SECRET, testEnvironment } from './test-environment.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

export type OwnServerOptions = {
  database: { url: string } | 'embedded';
  /** More variables for the service (DB_POOL_MAX, DB_ACQUIRE_TIMEOUT_MS, …). */
  env?: Record<string, string>;
  /** How long to wait for /health. */
  startTimeoutMs?: number;
};

export type Exit = { code: number | null; signal: NodeJS.Signals | null };

export type OwnServer = {
  baseURL: string;
  pid: number;
  /** Everything the process printed so far (JSON log lines). */
  output: () => string;
  /** Resolves when the process exits (for whatever reason). */
  exited: Promise<Exit>;
  /** SIGTERM, then waits for the exit; SIGKILL after `timeoutMs`. Safe to call twice. */
  stop: (timeoutMs?: number) => Promise<Exit>;
};

const running = new Set<ChildProcess>();
// A worker that dies mid-test must not leave servers (and their databases) behind.
process.once('exit', () => running.forEach((child) => child.kill('SIGKILL')));

export async function startOwnServer(options: OwnServerOptions): Promise<OwnServer> {
  const port = await freePort();
  const databaseEnv: Record<string, string> =
    options.database === 'embedded'
      ? {
          EMBEDDED_PG_PORT: String(await freePort()),
          EMBEDDED_PG_DIR: path.join(tmpdir(), `call-coach-own-${randomUUID()}`),
          EMBEDDED_PG_DATABASE: 'call_coach',
          EMBEDDED_PG_EPHEMERAL: 'true',
        }
      : { DATABASE_URL: options.database.url };
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(port),
    JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'info',
    // Tests that load an own server send thousands of requests with one token; rate-limit.spec.ts sets small quotas.
    RATE_LIMIT_REQUESTS: '100000000',
    ...databaseEnv,
    ...options.env,
  };
  const child = spawn(process.execPath, SERVER_NODE_ARGS, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<Exit>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );

  const baseURL = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  let exitedEarly: Exit | undefined;
  void exited.then((exit) => (exitedEarly = exit));
  for (;;) {
    if (exitedEarly) throw new Error(`own server exited during start (${JSON.stringify(exitedEarly)}):\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`own server did not answer /health in time:\n${output}`);
    }
    const healthy = await fetch(`${baseURL}/health`).then((r) => r.ok, () => false);
    if (healthy) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  const stop = async (timeoutMs = 20_000): Promise<Exit> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    }
    return exited;
  };
  return {
    baseURL,
    pid: child.pid!,
    output: () => output,
    exited,
    stop,
  };
}

/** An empty database next to the test database, for one own server; dropped by `drop()`. */
export async function scratchDatabase(db: Database): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const name = `call_coach_own_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  await db.pool.query(sql.unsafe`CREATE DATABASE ${sql.identifier([name])}`);
  const url = new URL(testEnvironment().databaseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => void (await db.pool.query(sql.unsafe`DROP DATABASE IF EXISTS ${sql.identifier([name])} WITH (FORCE)`)),
  };
}
