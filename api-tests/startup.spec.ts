/**
 * Starting the service. From a fresh clone inside a 0700 folder (root's home, `mktemp -d`), as a
 * newcomer does, as root when the run is root; and the ways a start fails: exit 1 after exactly one
 * JSON line at level fatal that says what to do, never a stack trace (server/startup-errors.ts);
 * and behind a real PgBouncer that refuses startup parameters.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, makeTempDataDir } from '../db/embedded.js';
import { readMigrations } from '../db/migrate.js';
import { freePort } from '../scripts/free-port.js';
import { ApiClient, expect, newCall, test } from './support/fixtures.js';
import { startOwnServer } from './support/own-server.js';
import { pgbouncerVersion, startPgBouncer, type PgBouncer } from './support/pgbouncer.js';
import { scratchDatabase, type ScratchDatabase } from './support/scratch-database.js';
import { SERVER_NODE_ARGS, TEST_JWT_SECRET, testEnvironment } from './support/test-environment.js';
import { signToken } from './support/tokens.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const AS_ROOT = process.getuid?.() === 0;
const PGBOUNCER_VERSION = pgbouncerVersion();

type LogLine = { level: number; msg: string; [field: string]: unknown };
type Run = { child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | null> };

function run(command: string, args: string[], cwd: string, env: Record<string, string>): Run {
  const child = spawn(command, args, { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** The JSON log lines of `text`; a line that is not JSON fails the test, naming it. */
function logLines(text: string): LogLine[] {
  return text
    .split('\n')
    .filter((line) => line.trim() && !line.startsWith('>')) // npm's "> call-coach-api@… start" banner
    .map((line) => {
      try {
        return JSON.parse(line) as LogLine;
      } catch {
        throw new Error(`not a JSON log line: ${line}`);
      }
    });
}

/** Starts the service (the bundle, as npm start runs it) with `env`, expecting it to give up. */
async function failedStart(env: Record<string, string>): Promise<{ code: number | null; lines: LogLine[]; output: string }> {
  const server = run(process.execPath, SERVER_NODE_ARGS, ROOT, {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(await freePort()),
    JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'info',
    ...env,
  });
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 60_000);
  const code = await server.exited.finally(() => clearTimeout(timer));
  expect(server.stderr(), 'nothing on stderr').toBe('');
  return { code, lines: logLines(server.stdout()), output: server.stdout() };
}

/** Exit 1, one fatal line whose message matches, no stack trace anywhere. */
function expectOneFatal(result: { code: number | null; lines: LogLine[]; output: string }, message: RegExp): void {
  const fatal = result.lines.filter((line) => line.level === 60);
  expect(fatal, result.output).toHaveLength(1);
  expect(fatal[0]!.msg).toMatch(message);
  expect(result.output).not.toMatch(/\n\s+at |"stack"/);
  expect(result.code).toBe(1);
}

/** Something listening on a port (a program holding the port the service wants). */
async function occupiedPort(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  return { port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

test.describe('a start that fails says why in one line', { tag: '@integration' }, () => {
  test('the API port in use', async () => {
    const taken = await occupiedPort();
    try {
      const result = await failedStart({ DATABASE_URL: testEnvironment().databaseUrl, MIGRATE_ON_START: 'false', PORT: String(taken.port) });
      expectOneFatal(result, new RegExp(`The API port 127\\.0\\.0\\.1:${taken.port} is in use\\. Set PORT to a free port`));
    } finally {
      await taken.close();
    }
  });

  test('DATABASE_URL unreachable, without its password', async () => {
    const port = await freePort();
    const result = await failedStart({ DATABASE_URL: `postgres://coach:hunter2secret@127.0.0.1:${port}/call_coach` });
    expectOneFatal(result, new RegExp(`Cannot reach PostgreSQL at postgres://coach:\\*\\*\\*@127\\.0\\.0\\.1:${port}/call_coach \\(ECONNREFUSED\\)\\. Start it, or correct DATABASE_URL`));
    expect(result.output).not.toContain('hunter2secret');
  });

  test('a migration failing', async ({ db }) => {
    const scratch = await scratchDatabase(db);
    try {
      // A table migration 001 creates, already there: the migration fails and is rolled back.
      const client = new pg.Client({ connectionString: scratch.url });
      await client.connect();
      await client.query('CREATE TABLE speakers (id int)');
      await client.end();
      const result = await failedStart({ DATABASE_URL: scratch.url });
      expectOneFatal(result, /Migration 001_initial_schema\.sql failed and was rolled back: relation "speakers" already exists\. Nothing of it was kept: fix the migration/);
    } finally {
      await scratch.drop();
    }
  });

  test('the embedded database port in use', async () => {
    const taken = await occupiedPort();
    const dataDir = await makeTempDataDir('call-coach-startup-');
    try {
      const result = await failedStart({ EMBEDDED_PG_DIR: dataDir, EMBEDDED_PG_PORT: String(taken.port), EMBEDDED_PG_EPHEMERAL: 'true' });
      expectOneFatal(result, new RegExp(`The embedded PostgreSQL's port ${taken.port} is in use .*Set EMBEDDED_PG_PORT to a free port`));
      expect(existsSync(dataDir), 'nothing created before the port was known free').toBe(false);
    } finally {
      await taken.close();
      await rm(path.dirname(dataDir), { recursive: true, force: true });
    }
  });

  test('a data folder held by a PostgreSQL still running', async () => {
    // The run's own cluster when it is embedded; otherwise one of this test's own.
    const environment = testEnvironment();
    const held = environment.embedded ? environment.embeddedDataDir : await makeTempDataDir('call-coach-held-');
    const own = environment.embedded
      ? undefined
      : await startEmbeddedPostgres({ dataDir: held, port: await freePort(), databaseName: 'held', ephemeral: true, log: () => {} });
    try {
      const result = await failedStart({ EMBEDDED_PG_DIR: held, EMBEDDED_PG_PORT: String(await freePort()), EMBEDDED_PG_EPHEMERAL: 'false' });
      expectOneFatal(result, /The embedded PostgreSQL data folder .* is in use by a PostgreSQL still running \(PID \d+\).*Stop it \(kill -INT \d+\)/);
    } finally {
      await own?.stop();
    }
  });

  test('a data folder owned by another user', async () => {
    // As root PostgreSQL runs as `postgres`, so a folder of root's own is another user's; a normal
    // user meets the same with a folder of root's, such as /.
    const foreign = AS_ROOT ? await mkdtemp(path.join(tmpdir(), 'call-coach-foreign-')) : '/';
    try {
      if (AS_ROOT) await chmod(foreign, 0o755);
      const result = await failedStart({ EMBEDDED_PG_DIR: foreign, EMBEDDED_PG_PORT: String(await freePort()) });
      expectOneFatal(result, /The embedded PostgreSQL data folder .* belongs to root, but PostgreSQL runs as \S+\. Point EMBEDDED_PG_DIR at another folder/);
    } finally {
      if (AS_ROOT) await rm(foreign, { recursive: true, force: true });
    }
  });

  test('as root, embedded binaries the postgres user cannot reach', async () => {
    test.skip(!AS_ROOT, 'as a normal user PostgreSQL runs the binaries in node_modules as that user: there is no copy to reach');
    // A system folder inside a 0700 folder: the postgres user cannot reach a copy made there.
    const closed = await mkdtemp(path.join(tmpdir(), 'call-coach-closed-'));
    const dataDir = await makeTempDataDir('call-coach-startup-');
    try {
      const result = await failedStart({
        EMBEDDED_PG_SYSTEM_DIR: path.join(closed, 'system'),
        EMBEDDED_PG_DIR: dataDir,
        EMBEDDED_PG_PORT: String(await freePort()),
      });
      expectOneFatal(result, new RegExp(`the postgres user cannot reach it: ${closed} \\(mode 0700, owner root\\) is closed to it\\. Set EMBEDDED_PG_SYSTEM_DIR`));
      expect((await stat(closed)).mode & 0o777, 'the folder keeps its mode').toBe(0o700);
    } finally {
      await rm(closed, { recursive: true, force: true });
      await rm(path.dirname(dataDir), { recursive: true, force: true });
    }
  });
});

/** The repository as a newcomer's clone has it: git clone, plus this worktree's uncommitted edits. */
function cloneInto(target: string): void {
  execFileSync('git', ['clone', '-q', ROOT, target], { stdio: 'pipe' });
  const changed = execFileSync('git', ['-C', ROOT, 'ls-files', '-m', '-o', '--exclude-standard', '-z'], { encoding: 'utf8' });
  for (const file of changed.split('\0').filter(Boolean)) {
    if (existsSync(path.join(ROOT, file))) execFileSync('cp', ['-p', path.join(ROOT, file), path.join(target, file)]);
  }
}

test.describe('a fresh clone', { tag: ['@integration', '@slow'] }, () => {
  test('in a 0700 folder, npm start serves /health and an authenticated request, then stops on SIGTERM', async () => {
    test.setTimeout(180_000);
    const home = await mkdtemp(path.join(tmpdir(), 'call-coach-home-')); // 0700, like /root or mktemp -d
    const clone = path.join(home, 'call-coach-api');
    // As root the binaries are copied to a system folder: a fresh one here, so the copy is exercised.
    const systemDir = AS_ROOT ? await mkdtemp(path.join(tmpdir(), 'call-coach-system-')) : undefined;
    let server: Run | undefined;
    try {
      if (systemDir) await chmod(systemDir, 0o755);
      cloneInto(clone);
      // Installed as `npm install` would (hard links where possible, else a copy): the binaries sit
      // inside the 0700 folder, reached through it as in a real clone.
      const modules = [path.join(ROOT, 'node_modules'), path.join(clone, 'node_modules')];
      try {
        execFileSync('cp', ['-al', ...modules], { stdio: 'pipe' });
      } catch {
        await rm(modules[1]!, { recursive: true, force: true });
        execFileSync('cp', ['-a', ...modules]);
      }
      const port = await freePort();
      server = run('npm', ['start'], clone, {
        PORT: String(port),
        EMBEDDED_PG_PORT: String(await freePort()),
        JWT_SECRET: TEST_JWT_SECRET,
        LOG_LEVEL: 'info',
        ...(systemDir ? { EMBEDDED_PG_SYSTEM_DIR: systemDir } : {}),
      });
      const baseURL = `http://127.0.0.1:${port}`;
      let exitedEarly = false;
      void server.exited.then(() => (exitedEarly = true));
      await expect
        .poll(async () => {
          if (exitedEarly) throw new Error(`npm start exited:\n${server!.stdout()}\n${server!.stderr()}`);
          return fetch(`${baseURL}/health`).then((r) => r.status, () => 0);
        }, { timeout: 120_000, intervals: [200] })
        .toBe(200);

      const calls = await fetch(`${baseURL}/calls?limit=1`, { headers: { Authorization: `Bearer ${signToken()}` } });
      expect(calls.status).toBe(200);
      expect(Array.isArray((await calls.json()).data)).toBe(true);

      const started = logLines(server.stdout()).find((line) => line.msg.startsWith('embedded PostgreSQL started'));
      // Root: the cluster lives under the system folder (the clone's own 0700 parent is closed to postgres).
      const expectedDataDir = systemDir ? path.join(systemDir, 'data') : path.join(clone, '.data', 'postgres');
      expect(String(started?.dataDir)).toContain(systemDir ? expectedDataDir : '.data/postgres');

      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      expect(server.stderr()).toBe('');
      expect((await stat(home)).mode & 0o777, "the user's folder keeps its mode").toBe(0o700);
    } finally {
      if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
      await rm(home, { recursive: true, force: true });
      if (systemDir) await rm(systemDir, { recursive: true, force: true });
    }
  });
});

/**
 * A real PgBouncer (Debian's, support/pgbouncer.ts) in transaction mode with its defaults: no
 * `ignore_startup_parameters`, so a connection that sends a startup parameter other than those it
 * tracks (application_name among them) is refused, as production poolers do.
 */
test.describe('behind a real PgBouncer that refuses startup parameters', { tag: '@integration' }, () => {
  test.skip(!PGBOUNCER_VERSION && !process.env.CI, 'pgbouncer is not installed (apt-get install pgbouncer)');
  let pooler: PgBouncer;
  let scratch: ScratchDatabase;

  test.beforeEach(async ({ db }) => {
    expect(PGBOUNCER_VERSION, 'pgbouncer must be installed under CI (.ci/run installs it)').toBeTruthy();
    pooler = await startPgBouncer(testEnvironment().databaseUrl, { poolSize: 2 });
    scratch = await scratchDatabase(db);
  });
  test.afterEach(async () => {
    await pooler?.stop();
    await scratch?.drop();
  });

  test('the service starts, migrates (directly, MIGRATION_DATABASE_URL) and serves through it; without it, /ready is a 503', async ({ playwright }) => {
    const server = await startOwnServer({ database: { url: pooler.urlFor(scratch.url) }, env: { MIGRATION_DATABASE_URL: scratch.url } });
    const context = await playwright.request.newContext({ baseURL: server.baseURL });
    const direct = new pg.Client({ connectionString: scratch.url });
    await direct.connect();
    try {
      expect(server.output(), 'nothing refused').not.toMatch(/unsupported startup parameter|"level":(50|60)/);
      const applied = await direct.query('SELECT count(*)::int AS n FROM schema_migrations');
      expect(applied.rows[0].n, 'the migrations ran').toBe((await readMigrations()).length);

      const api = new ApiClient(context, signToken({ role: 'admin' }));
      const created = await api.post('/calls', newCall());
      expect(created.status(), await created.text()).toBe(201);
      const call = await created.json();
      expect((await api.get(`/calls/${call.id}`)).status()).toBe(200);
      const stored = await direct.query('SELECT title FROM calls WHERE id = $1', [call.id]);
      expect(stored.rows).toEqual([{ title: call.title }]);
      expect(pooler.output(), 'PgBouncer refused nothing').not.toMatch(/unsupported startup parameter/);

      // The service's only way to its database was the pooler: without it, the database is unreachable.
      await pooler.stop();
      await expect.poll(async () => (await api.get('/ready')).status(), { timeout: 15_000 }).toBe(503);
      expect((await api.get('/ready')).headers()['retry-after']).toMatch(/^\d+$/);
    } finally {
      await direct.end();
      await context.dispose();
      await server.stop();
    }
  });

  test('a DATABASE_URL that asks for a startup parameter (options=-c ...): refused by PgBouncer, one fatal line says what to do', async () => {
    const url = new URL(pooler.urlFor(scratch.url));
    url.searchParams.set('options', '-c statement_timeout=5000');
    const result = await failedStart({ DATABASE_URL: url.toString(), MIGRATION_DATABASE_URL: scratch.url });
    expectOneFatal(result, /refused the connection's startup \(unsupported startup parameter: options\): it is a connection pooler such as PgBouncer.*ignore_startup_parameters/);
    expect(pooler.output()).toMatch(/unsupported startup parameter: options/);
  });
});
