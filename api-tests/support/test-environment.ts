/**
 * Where the test run's database and server live, decided once in Playwright's main process
 * (playwright.config.ts) and handed to workers and the webServer through the environment.
 *
 *   TEST_DATABASE_URL set (env or .env.test) -> that database; the server migrates it on start.
 *   otherwise                                -> a throwaway embedded PostgreSQL that the server
 *                                               starts in a temp folder and deletes on exit.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'dotenv';
import { maskDatabaseUrl } from '../../server/startup-errors.js';

export type TestEnvironment = {
  databaseUrl: string;
  /** True when the server starts a throwaway embedded PostgreSQL for this run. */
  embedded: boolean;
  embeddedPort: number;
  embeddedDataDir: string;
  apiPort: number;
  baseURL: string;
  jwtSecret: string;
  /** The Gong webhook credentials the server under test accepts. */
  gong: { privateKey: string; publicKey: string; urlKey: string };
};

const ENV_KEY = 'CALL_COACH_TEST_ENVIRONMENT';
const ROOT = path.resolve(import.meta.dirname, '..', '..');
/**
 * How a test run starts the service: the production bundle `npm start` runs (built by the
 * webServer command), or, with SERVER_FROM_SOURCE=1 (`npm run test:coverage` sets it), the
 * TypeScript through tsx, so V8's coverage maps to the source lines exactly.
 */
export const SERVER_FROM_SOURCE = Boolean(process.env.SERVER_FROM_SOURCE);
export const SERVER_NODE_ARGS = SERVER_FROM_SOURCE ? ['--import', 'tsx', 'server/main.ts'] : ['dist/server.js'];

export const TEST_JWT_SECRET = 'call-coach-test-secret-0123456789abcdef';

/** postgres://user:password@host/db -> postgres://user:***@host/db, for messages. */
export const maskUrl = maskDatabaseUrl;

function configuredDatabaseUrl(): string | undefined {
  if (process.env.TEST_DATABASE_URL) return process.env.TEST_DATABASE_URL;
  const file = path.join(ROOT, '.env.test');
  return existsSync(file) ? parse(readFileSync(file)).TEST_DATABASE_URL || undefined : undefined;
}

/** scripts/free-port.ts run as a script: the Playwright config is loaded synchronously. */
function freePortsSync(count: number): number[] {
  const script = path.join(ROOT, 'scripts/free-port.ts');
  return execFileSync(process.execPath, ['--import', 'tsx', script, String(count)], { encoding: 'utf8' }).trim().split(',').map(Number);
}

/** Fails the run early, with the URL tried (password hidden), when the database does not answer. */
function assertReachable(url: string): void {
  try {
    execFileSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'api-tests/support/check-database.ts'), url], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 20_000,
    });
  } catch (error) {
    const reason = String((error as { stderr?: string }).stderr ?? '').trim() || String(error);
    throw new Error(
      `Test database not available at ${maskUrl(url)}: ${reason}\n` +
        'Start it (e.g. `docker compose -f docker-compose.test.yml up -d`), fix TEST_DATABASE_URL, ' +
        'or unset TEST_DATABASE_URL to use a throwaway embedded PostgreSQL.',
    );
  }
}

export function testEnvironment(): TestEnvironment {
  const known = process.env[ENV_KEY];
  if (known) return JSON.parse(known) as TestEnvironment;

  const [apiPort, embeddedPort] = freePortsSync(2) as [number, number];
  const external = configuredDatabaseUrl();
  let environment: TestEnvironment;
  if (external) {
    assertReachable(external);
    environment = { databaseUrl: external, embedded: false, embeddedPort: 0, embeddedDataDir: '', apiPort, baseURL: '', jwtSecret: '', gong: { privateKey: '', publicKey: '', urlKey: '' } };
  } else {
    environment = {
      databaseUrl: `postgres://postgres:postgres@127.0.0.1:${embeddedPort}/call_coach_test`,
      embedded: true,
      embeddedPort,
      // Not created here: the server creates it (owned by the `postgres` user when we run as root)
      // and deletes it when it stops.
      embeddedDataDir: path.join(tmpdir(), `call-coach-test-${randomUUID()}`),
      apiPort,
      baseURL: '',
      jwtSecret: '',
      gong: { privateKey: '', publicKey: '', urlKey: '' },
    };
  }
  environment.baseURL = `http://127.0.0.1:${apiPort}`;
  environment.jwtSecret = TEST_JWT_SECRET;
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  environment.gong = {
    privateKey: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    urlKey: randomUUID(),
  };
  process.env[ENV_KEY] = JSON.stringify(environment);
  return environment;
}

/** The variables the service under test starts with. */
export function serverEnvironment(environment: TestEnvironment): Record<string, string> {
  const common = {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(environment.apiPort),
    JWT_SECRET: environment.jwtSecret,
    GONG_WEBHOOK_PUBLIC_KEY: environment.gong.publicKey,
    GONG_WEBHOOK_KEY: environment.gong.urlKey,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    DB_POOL_MAX: '10',
    MIGRATE_ON_START: process.env.MIGRATE_ON_START ?? 'true',
  };
  if (!environment.embedded) return { ...common, DATABASE_URL: environment.databaseUrl };
  return {
    ...common,
    EMBEDDED_PG_PORT: String(environment.embeddedPort),
    EMBEDDED_PG_DIR: environment.embeddedDataDir,
    EMBEDDED_PG_DATABASE: 'call_coach_test',
    EMBEDDED_PG_EPHEMERAL: 'true',
  };
}
