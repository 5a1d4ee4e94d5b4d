/**
 * An HTTP server script run as a child process on a free port, ready once GET /health answers 200:
 * the tests' own service processes (api-tests/support/own-server.ts) and the bench's servers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './free-port.js';

export type Exit = { code: number | null; signal: NodeJS.Signals | null };

export type ServerProcess = {
  baseURL: string;
  port: number;
  pid: number;
  child: ChildProcess;
  /** What the process printed (stdout and stderr), the last `outputLimit` characters. */
  output: () => string;
  /** Resolves when the process exits (for whatever reason). */
  exited: Promise<Exit>;
  /** SIGTERM, then waits for the exit; SIGKILL after `timeoutMs`. Safe to call twice. */
  stop: (timeoutMs?: number) => Promise<Exit>;
};

export type ServerProcessOptions = {
  /** Node's arguments: flags and the script (e.g. ['dist/server.js']). */
  args: string[];
  cwd: string;
  /** The whole environment of the process; PORT is added. */
  env: NodeJS.ProcessEnv;
  /** Names the process in errors. */
  name?: string;
  /** How long to wait for /health (default 60 s). */
  startTimeoutMs?: number;
  /** Output kept (default: all of it). */
  outputLimit?: number;
};

const running = new Set<ChildProcess>();
// A parent that dies must not leave servers (and their databases) behind.
process.once('exit', () => running.forEach((child) => child.kill('SIGKILL')));

export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const name = options.name ?? 'server';
  const port = await freePort();
  const child = spawn(process.execPath, options.args, {
    cwd: options.cwd,
    env: { ...options.env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
    if (options.outputLimit !== undefined && output.length > options.outputLimit) output = output.slice(-options.outputLimit);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exit: Exit | undefined;
  const exited = new Promise<Exit>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      exit = { code, signal };
      resolve(exit);
    }),
  );

  const baseURL = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  for (;;) {
    if (exit) throw new Error(`${name} exited during start (${JSON.stringify(exit)}):\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not answer /health in time:\n${output}`);
    }
    if (await fetch(`${baseURL}/health`).then((r) => r.ok, () => false)) break;
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
  return { baseURL, port, pid: child.pid!, child, output: () => output, exited, stop };
}
