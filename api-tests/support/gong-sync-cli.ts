/**
 * Runs `scripts/gong-sync.ts` (what `npm run gong:sync` runs) as a child process against a
 * database and a simulated Gong, so tests can watch it, kill it and start it again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { GongSimulator } from './gong-simulator.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

export const SIM_BASIC = { accessKey: 'sim-access-key', accessKeySecret: 'sim-access-key-secret' };
export const SIM_BEARER = 'sim-oauth-token';

export type SyncProcess = {
  child: ChildProcess;
  /** Resolves with the exit code, stdout and stderr once the process ends. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  stderr: () => string;
};

/** The Gong settings pointing the sync at `sim`, with Basic auth unless `env` says otherwise. */
export function gongEnv(sim: GongSimulator, env: Record<string, string> = {}): Record<string, string> {
  const auth: Record<string, string> = 'GONG_ACCESS_TOKEN' in env ? {} : { GONG_ACCESS_KEY: SIM_BASIC.accessKey, GONG_ACCESS_KEY_SECRET: SIM_BASIC.accessKeySecret };
  return { GONG_API_BASE_URL: sim.url, GONG_SYNC_LEASE_SECONDS: '2', ...auth, ...env };
}

const running = new Set<ChildProcess>();
// A worker that dies mid-test must not leave sync processes behind.
process.once('exit', () => running.forEach((child) => child.kill('SIGKILL')));

export function startSync(options: { databaseUrl: string; sim: GongSimulator; from: string; to: string; env?: Record<string, string> }): SyncProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/gong-sync.ts', '--from', options.from, '--to', options.to], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      DATABASE_URL: options.databaseUrl,
      ...gongEnv(options.sim, options.env),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return { child, done, stderr: () => stderr };
}

/** Runs one sync to its end; the run's JSON (stdout) parsed when it printed one. */
export async function runSync(options: Parameters<typeof startSync>[0]) {
  const result = await startSync(options).done;
  const line = result.stdout.trim().split('\n').filter(Boolean).pop();
  return { ...result, run: line ? (JSON.parse(line) as Record<string, any>) : null };
}
