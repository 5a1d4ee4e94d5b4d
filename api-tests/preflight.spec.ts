import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../server/config.js';
import { freePort } from '../scripts/free-port.js';
import { expect, test } from './support/fixtures.js';
import { scratchDatabase } from './support/scratch-database.js';
import { maskUrl } from './support/test-environment.js';

/** Runs Playwright itself, as a developer would, with `env` changed; returns what it printed. */
function nestedRun(env: Record<string, string>): { status: number | null; output: string } {
  const outputDir = mkdtempSync(path.join(tmpdir(), 'call-coach-nested-'));
  try {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    delete childEnv.CALL_COACH_TEST_ENVIRONMENT; // decide afresh, as a new run would
    const result = spawnSync(
      process.execPath,
      ['node_modules/@playwright/test/cli.js', 'test', 'api-tests/system.spec.ts', '--grep', 'health answers ok', '--output', outputDir, '--reporter', 'line'],
      { env: childEnv, encoding: 'utf8', timeout: 120_000 },
    );
    return { status: result.status, output: `${result.stdout}\n${result.stderr}` };
  } finally {
    rmSync(outputDir, { recursive: true, force: true });
  }
}

test.describe('configuration', () => {
  test('defaults are usable for local development', () => {
    const config = loadConfig({});
    expect(config.databaseUrl).toBeUndefined();
    expect(config.pool).toEqual({ maxConnections: 10, acquireTimeoutMs: 2000, statementTimeoutMs: 5000, idleInTransactionTimeoutMs: 60_000, connectTimeoutMs: 3000, parseRows: true });
    expect(config.migrateOnStart).toBe(true);
  });

  test('rows are parsed against their schemas in development and tests; in production only with DB_PARSE_ROWS', () => {
    const production = { NODE_ENV: 'production', JWT_SECRET: 'p'.repeat(40) };
    expect(loadConfig({ NODE_ENV: 'test' }).pool.parseRows).toBe(true);
    expect(loadConfig(production).pool.parseRows).toBe(false);
    expect(loadConfig({ ...production, DB_PARSE_ROWS: 'true' }).pool.parseRows).toBe(true);
    expect(loadConfig({ NODE_ENV: 'test', DB_PARSE_ROWS: 'false' }).pool.parseRows).toBe(false);
  });

  test('bad values are refused with the variable named', () => {
    expect(() => loadConfig({ DB_POOL_MAX: '0' })).toThrow(/DB_POOL_MAX must be an integer from 1/);
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => loadConfig({ MIGRATE_ON_START: 'maybe' })).toThrow(/MIGRATE_ON_START must be true or false/);
    expect(() => loadConfig({ JWT_SECRET: 'short' })).toThrow(/32 characters/);
  });

  test('production refuses to start without its own JWT_SECRET', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET must be set in production/);
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'p'.repeat(40) }).jwtSecret).toBe('p'.repeat(40));
  });

  test('edge settings: CORS origins, token lifetime, key set, rate limit', () => {
    const defaults = loadConfig({});
    expect(defaults.corsOrigins).toEqual([]);
    expect(defaults.jwt).toMatchObject({ maxTtlSeconds: 86_400, jwksUrl: undefined, issuer: undefined, audience: undefined });
    expect(defaults.rateLimit).toEqual({ requests: 600, windowSeconds: 60 });
    expect(loadConfig({ CORS_ORIGINS: 'https://app.example.com, http://localhost:5173' }).corsOrigins).toEqual([
      'https://app.example.com',
      'http://localhost:5173',
    ]);
    expect(() => loadConfig({ CORS_ORIGINS: 'https://app.example.com/' })).toThrow(/CORS_ORIGINS must list origins/);
    expect(() => loadConfig({ CORS_ORIGINS: '*' })).toThrow(/CORS_ORIGINS must list origins/);
    expect(() => loadConfig({ JWT_JWKS_URL: 'ftp://idp.example/jwks' })).toThrow(/JWT_JWKS_URL must be an http\(s\) URL/);
    expect(() => loadConfig({ JWT_MAX_TTL_SECONDS: '0' })).toThrow(/JWT_MAX_TTL_SECONDS must be an integer from 60/);
    // A key set replaces the shared secret, so production needs no JWT_SECRET then.
    expect(loadConfig({ NODE_ENV: 'production', JWT_JWKS_URL: 'https://idp.example/jwks.json' }).jwt.jwksUrl).toBe('https://idp.example/jwks.json');
  });

  test('database URLs in messages hide the password', () => {
    expect(maskUrl('postgres://coach:s3cret@db.example:5433/call_coach')).toBe('postgres://coach:***@db.example:5433/call_coach');
  });
});

test.describe('test database preflight', () => {
  test('an unreachable TEST_DATABASE_URL stops the run, naming the URL without its password', async () => {
    const port = await freePort();
    const { status, output } = nestedRun({ TEST_DATABASE_URL: `postgres://coach:hunter2secret@127.0.0.1:${port}/nowhere` });
    expect(status).not.toBe(0);
    expect(output).toContain(`Test database not available at postgres://coach:***@127.0.0.1:${port}/nowhere`);
    expect(output).not.toContain('hunter2secret');
  });

  test('a database without the schema stops the run, naming the fix', { tag: '@integration' }, async ({ db }) => {
    const empty = await scratchDatabase(db);
    try {
      const { status, output } = nestedRun({ TEST_DATABASE_URL: empty.url, MIGRATE_ON_START: 'false' });
      expect(status).not.toBe(0);
      expect(output).toContain('Test database schema not initialized');
      expect(output).toContain('missing tables calls, speakers, transcripts, analyses');
      expect(output).toContain('npm run db:migrate');
    } finally {
      await empty.drop();
    }
  });
});
