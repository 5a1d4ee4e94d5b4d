/**
 * What the edge stages cost GET (docs/benchmarks.md, "Edge stages"): rate limiting (off, the
 * two-tier limiter as shipped, and every request counted in PostgreSQL) and compression (a
 * transcript and a call, identity, br, gzip), measured with wrk in interleaved rounds (order
 * rotated each round), with the server's CPU per request (utime+stime from /proc around each run)
 * and wrk's own CPU. Not part of `npm test`:
 *
 *   npx tsx scripts/edge-bench.ts [--rounds 4] [--duration 5] [--connections 32]
 *
 * The variants are builds of server/main.ts that differ in one line each, replaced at build time
 * (see VARIANTS); all run against one embedded PostgreSQL (fsync on), seeded with one call with
 * three speakers and a 300-sentence transcript.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { build, type Plugin } from 'esbuild';
import jwt from 'jsonwebtoken';
import { makeTempDataDir, startEmbeddedPostgres } from '../db/embedded.js';
import { freePort } from './free-port.js';
import { startServerProcess, type ServerProcess } from './server-process.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '4' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
  },
});
const CLOCK_TICK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** One-line source replacements per variant: [file, from, to]. */
const VARIANTS: Record<string, [string, string, string][]> = {
  'no rate limit': [['server/app.ts', '  app.use(rateLimit(db, config.rateLimit, logger));', '  // (rate limit off)']],
  'rate limit (as shipped)': [],
  'rate limit, every request counted in PostgreSQL': [['server/rate-limit.ts', 'const EXACT_SHARE = 0.1;', 'const EXACT_SHARE = 1;']],
};

function replacing(edits: [string, string, string][]): Plugin {
  return {
    name: 'variant',
    setup(builder) {
      for (const [file, from, to] of edits) {
        const absolute = path.join(ROOT, file);
        builder.onLoad({ filter: new RegExp(`${absolute.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`) }, async () => {
          const source = await readFile(absolute, 'utf8');
          if (!source.includes(from)) throw new Error(`${file} no longer contains ${JSON.stringify(from)}: update edge-bench's VARIANTS`);
          return { contents: source.replace(from, to), loader: 'ts' };
        });
      }
    },
  };
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
}

/** One variant's bundle as `npm start` runs it; what it logs (warnings and up) is printed when it stops. */
function startServer(bundle: string, env: Record<string, string>): Promise<ServerProcess> {
  return startServerProcess({
    name: bundle,
    args: ['--max-semi-space-size=4', bundle],
    cwd: ROOT,
    env: { PATH: process.env.PATH, MALLOC_ARENA_MAX: '2', ...env },
    startTimeoutMs: 30_000,
  });
}

type Run = { rps: number; p99: number; cpuUs: number; wrkCpuPct: number };

function wrk(pid: number, url: string, headers: Record<string, string>): Run {
  const duration = Number(args.duration);
  const before = cpuTicks(pid);
  const headerArgs = Object.entries(headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`]);
  const quoted = ['wrk', '-t1', `-c${args.connections}`, `-d${duration}s`, '--latency', ...headerArgs, url].map((a) => `'${a.replace(/'/g, `'\\''`)}'`);
  // bash's `times` prints the children's user and system CPU: wrk's own cost.
  const out = spawnSync('bash', ['-c', `${quoted.join(' ')}; times`], { encoding: 'utf8' }).stdout;
  const served = cpuTicks(pid) - before;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const p99text = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99 = p99text ? Number(p99text[1]) * ({ us: 0.001, ms: 1, s: 1000 } as const)[p99text[2] as 'us' | 'ms' | 's'] : NaN;
  const times = [...out.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  const wrkCpu = (times[2] ?? 0) + (times[3] ?? 0); // second line of `times`: children's user, system
  if (/Non-2xx or 3xx responses/.test(out)) throw new Error(`wrk saw non-2xx answers:\n${out}`);
  return { rps, p99, cpuUs: ((served / CLOCK_TICK) * 1e6) / requests, wrkCpuPct: (wrkCpu / duration) * 100 };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

function table(title: string, results: Map<string, Run[]>): string {
  const rows = [...results].map(([name, runs]) => {
    const m = (key: keyof Run) => median(runs.map((run) => run[key]));
    return `| ${name} | ${Math.round(m('rps')).toLocaleString('en-US')} | ${m('p99').toFixed(1)} | ${Math.round(m('cpuUs'))} | ${Math.round(m('wrkCpuPct'))}% |`;
  });
  return [`### ${title}`, '', '| variant | req/s | p99 ms | server CPU µs/req | wrk CPU |', '|---|--:|--:|--:|--:|', ...rows].join('\n');
}

async function rounds(title: string, cases: { name: string; pid: number; url: string; headers: Record<string, string> }[]) {
  const results = new Map(cases.map((c) => [c.name, [] as Run[]]));
  for (let round = 0; round < Number(args.rounds); round++) {
    const order = cases.map((_, i) => cases[(i + round) % cases.length]!);
    for (const c of order) results.get(c.name)!.push(wrk(c.pid, c.url, c.headers));
  }
  console.log(`\n${table(title, results)}\n`);
}

const dataDir = await makeTempDataDir('call-coach-edge-bench-');
const database = await startEmbeddedPostgres({ dataDir, port: await freePort(), databaseName: 'edge_bench', ephemeral: false, log: console.error });
const servers: ServerProcess[] = [];
try {
  const secret = randomBytes(32).toString('hex');
  const env = { NODE_ENV: 'production', LOG_LEVEL: 'warn', JWT_SECRET: secret, DATABASE_URL: database.url, RATE_LIMIT_REQUESTS: '1000000000', DB_POOL_MAX: '10' };
  const variants: { name: string; pid: number; url: string }[] = [];
  for (const [name, edits] of Object.entries(VARIANTS)) {
    // Inside the project, so the bundle finds node_modules (packages stay external) and the spec.
    const outfile = path.join(ROOT, 'dist', `edge-bench-${variants.length}.js`);
    await build({
      entryPoints: [path.join(ROOT, 'server/main.ts')],
      bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile, logLevel: 'warning',
      plugins: [replacing(edits)],
    });
    const server = await startServer(outfile, env);
    servers.push(server);
    variants.push({ name, pid: server.pid, url: server.baseURL });
  }
  const token = jwt.sign({ sub: 'bench', email: 'bench@example.com', role: 'admin' }, secret, { algorithm: 'HS256', expiresIn: 3600 });
  const auth = { Authorization: `Bearer ${token}` };
  const api = variants[1]!.url;
  const created = await fetch(`${api}/calls`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      gong_call_id: String(Date.now()), title: 'Acme Corp discovery call', scheduled_at: '2026-11-02T15:00:00Z', duration_seconds: 1860,
      call_type: 'discovery', product: 'prefect', metadata: { direction: 'Outbound', scope: 'External' },
      speakers: [
        { name: 'Sarah Chen', email: 'sarah.chen@example.com', role: 'ae', company_side: true, gong_speaker_id: '1' },
        { name: 'Priya Raman', email: 'priya.raman@example.com', role: 'se', company_side: true, gong_speaker_id: '2' },
        { name: 'Dan Ortiz', email: 'dan@acme.example', role: 'prospect', company_side: false, gong_speaker_id: '3' },
      ],
    }),
  });
  const call = (await created.json()) as { id: string };
  const sentences = Array.from({ length: 300 }, (_, i) => ({ start: i * 4000, end: i * 4000 + 3500, text: `Sentence ${i}: our nightly jobs keep failing and nobody notices until the morning stand-up.` }));
  await fetch(`${api}/calls/${call.id}/transcript`, {
    method: 'PUT',
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify([{ speakerId: '1', sentences: sentences.slice(0, 150) }, { speakerId: '3', sentences: sentences.slice(150) }]),
  });
  const sizes = await Promise.all(
    [`/calls/${call.id}`, `/calls/${call.id}/transcript`].map(async (p) => (await (await fetch(`${api}${p}`, { headers: { ...auth, 'Accept-Encoding': 'identity' } })).arrayBuffer()).byteLength),
  );
  console.log(`uptime: ${spawnSync('uptime', { encoding: 'utf8' }).stdout.trim()}; ${os.cpus().length} cores; call ${sizes[0]} B, transcript ${sizes[1]} B`);
  console.log(`wrk -t1 -c${args.connections} -d${args.duration}s, ${args.rounds} interleaved rounds, medians`);

  await rounds('GET /calls/{call_id} (no Accept-Encoding), rate limiting', variants.map((v) => ({ ...v, url: `${v.url}/calls/${call.id}`, headers: auth })));
  const shipped = variants[1]!;
  await rounds('GET /calls/{call_id}, compression (rate limit as shipped)', ['identity', 'br', 'gzip'].map((encoding) => ({
    name: `Accept-Encoding: ${encoding}`, pid: shipped.pid, url: `${shipped.url}/calls/${call.id}`, headers: { ...auth, 'Accept-Encoding': encoding },
  })));
  await rounds(`GET /calls/{call_id}/transcript (${sizes[1]} B), compression`, ['identity', 'br', 'gzip'].map((encoding) => ({
    name: `Accept-Encoding: ${encoding}`, pid: shipped.pid, url: `${shipped.url}/calls/${call.id}/transcript`, headers: { ...auth, 'Accept-Encoding': encoding },
  })));
} finally {
  await Promise.all(servers.map((server) => server.stop()));
  for (const server of servers) if (server.output()) console.error(server.output());
  await database.stop();
  await rm(path.dirname(dataDir), { recursive: true, force: true });
  for (let i = 0; i < Object.keys(VARIANTS).length; i++) await rm(path.join(ROOT, 'dist', `edge-bench-${i}.js`), { force: true });
}
