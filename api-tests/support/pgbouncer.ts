/**
 * A real PgBouncer (Debian's package) in transaction mode in front of the test cluster, for the
 * scale-out suite. As root it runs as the `postgres` user (PgBouncer refuses to run as root), so
 * its folder is made reachable for that user. Always `stop()` it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../scripts/free-port.js';

export const PGBOUNCER = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find((file) => existsSync(file));

export type PgBouncer = {
  /** The upstream URL with host and port replaced by the pooler's. */
  urlFor: (upstream: string) => string;
  output: () => string;
  stop: () => Promise<void>;
};

/**
 * `users`: more logins the pooler accepts (auth_type plain), beside the upstream URL's;
 * `settings`: more [pgbouncer] settings (e.g. `query_wait_timeout`), by name.
 */
export async function startPgBouncer(
  upstreamUrl: string,
  options: { poolSize: number; users?: { name: string; password: string }[]; settings?: Record<string, string> },
): Promise<PgBouncer> {
  if (!PGBOUNCER) throw new Error('pgbouncer is not installed (Debian: apt-get install pgbouncer)');
  const upstream = new URL(upstreamUrl);
  const port = await freePort();
  const dir = await mkdtemp(path.join(tmpdir(), 'call-coach-pgbouncer-'));
  await chmod(dir, 0o755);
  const user = decodeURIComponent(upstream.username);
  const password = decodeURIComponent(upstream.password);
  const logins = [{ name: user, password }, ...(options.users ?? [])];
  await writeFile(path.join(dir, 'userlist.txt'), logins.map((login) => `"${login.name}" "${login.password}"\n`).join(''), { mode: 0o644 });
  await writeFile(
    path.join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${upstream.hostname} port=${upstream.port}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      `unix_socket_dir =`,
      'auth_type = plain',
      `auth_file = ${path.join(dir, 'userlist.txt')}`,
      'pool_mode = transaction',
      `default_pool_size = ${options.poolSize}`,
      'max_client_conn = 500',
      // Debian's defaults otherwise; no ignore_startup_parameters: what a pooler refuses, it refuses here.
      ...Object.entries(options.settings ?? {}).map(([name, value]) => `${name} = ${value}`),
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  const args = [...(process.getuid?.() === 0 ? ['-u', 'postgres'] : []), path.join(dir, 'pgbouncer.ini')];
  const child: ChildProcess = spawn(PGBOUNCER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`pgbouncer did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    urlFor: (url) => {
      const pooled = new URL(url);
      pooled.hostname = '127.0.0.1';
      pooled.port = String(port);
      return pooled.toString();
    },
    output: () => output,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** Whether `pgbouncer --version` runs here (a missing binary skips the suite locally, fails it in CI). */
export function pgbouncerVersion(): string | undefined {
  if (!PGBOUNCER) return undefined;
  const result = spawnSync(PGBOUNCER, ['--version'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim().split('\n')[0] : undefined;
}
