/**
 * `npm run bench`: the service under load, beside two floors, on this machine, in one run.
 *
 *   npm run bench                                   # 100k calls, 1M segments, throwaway embedded PostgreSQL
 *   npm run bench -- --calls 20000 --segments 200000 --duration 5 --rounds 4   # a quicker run
 *   npm run bench -- --reuse                        # keep the seeded database in .data/bench/ for next time
 *   BENCH_DATABASE_URL=postgres://… npm run bench   # an empty database of yours (seeded once, then reused)
 *   npm run bench -- --profile                      # also V8 CPU profiles of every server (.data/bench/profiles/)
 *
 * It seeds (scripts/bench-seed.ts), builds and starts the service (`MALLOC_ARENA_MAX=2 node
 * --max-semi-space-size=8 dist/server.js` as `npm start` does; other V8 flags with --node-args='…',
 * another arena count with MALLOC_ARENA_MAX=N in the bench's environment; `--from-source` runs the
 * TypeScript through tsx instead; NODE_ENV=production, LOG_LEVEL=warn, a random JWT_SECRET, pool
 * of 10) and two floors (scripts/bench-bare-server.ts: node:http + pg, and node:http + the
 * service's own Slonik pool and data functions; no framework, auth or validation). The load
 * generator is wrk (Debian's; installed here when missing and run as root), one thread, whose own
 * CPU is reported so it can be seen not to be the bottleneck. GET /calls/{id} and POST /calls run
 * against all three servers in interleaved rounds (order rotated each round); the table gives
 * medians and the median of the per-round ratios, server CPU µs per request (utime+stime from
 * /proc/PID/stat around each run) and peak RSS (VmRSS sampled every 100 ms). Then list, search,
 * ingest and many connections against the service alone, and EXPLAIN (ANALYZE, BUFFERS) of the
 * search and list queries. Not part of `npm test`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import jwt from 'jsonwebtoken';
import pg from 'pg';
import { makeTempDataDir, startEmbeddedPostgres } from '../db/embedded.js';
import { migrate } from '../db/migrate.js';
import { UNRESTRICTED } from '../db/scope.js';
import { insertSegmentsQuery, searchQuery } from '../db/transcripts.js';
import { loadConfig } from '../server/config.js';
import { maintenanceSession, SEEDED_GONG_CALL_ID, seedDatabase, seededSize, VOCABULARY, type SeedSize } from './bench-seed.js';
import { transcriptLimits, transcriptLimitScenario } from './bench-transcript-limits.js';
import { freePort } from './free-port.js';
import { startServerProcess, type ServerProcess } from './server-process.js';

/** Keep in step with package.json's `start`: the bench measures the service as it is started. */
const SERVICE_NODE_ARGS = '--max-semi-space-size=8';
const SERVICE_MALLOC_ARENA_MAX = process.env.MALLOC_ARENA_MAX ?? '2';
const ROOT = path.resolve(import.meta.dirname, '..');
const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '100000' },
    segments: { type: 'string', default: '1000000' },
    'transcript-calls': { type: 'string', default: '10000' },
    duration: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '4' },
    'ingest-runs': { type: 'string', default: '10' },
    reuse: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'no-explain': { type: 'boolean', default: false },
    'shared-buffers': { type: 'string' },
    only: { type: 'string', default: 'get,post,list,search,ingest,concurrency,limits' },
    'limit-runs': { type: 'string', default: '3' },
    // V8 flags for the service, space-separated; by default the ones `npm start` uses.
    'node-args': { type: 'string', default: SERVICE_NODE_ARGS },
    'from-source': { type: 'boolean', default: false },
  },
});
const size: SeedSize = {
  calls: Number(args.calls),
  segments: Number(args.segments),
  transcriptCalls: Math.min(Number(args['transcript-calls']), Number(args.calls)),
};
const DURATION = Number(args.duration);
const ROUNDS = Math.max(1, Number(args.rounds));
const INGEST_RUNS = Number(args['ingest-runs']);
const POOL = 10;
const ONLY = new Set(args.only.split(','));
const log = (line: string) => console.error(line);

// ---------------------------------------------------------------- database
type Target = { url: string; stop: () => Promise<void> };

async function database(): Promise<Target> {
  if (process.env.BENCH_DATABASE_URL) return { url: process.env.BENCH_DATABASE_URL, stop: async () => {} };
  // Not `ephemeral`: that would turn fsync and synchronous_commit off, and ingest timings would
  // not be production-like. A throwaway folder is deleted here instead.
  const dataDir = args.reuse
    ? path.join(ROOT, '.data', 'bench', `pg-${size.calls}-${size.segments}-${size.transcriptCalls}`)
    : await makeTempDataDir('call-coach-bench-');
  const instance = await startEmbeddedPostgres({
    dataDir,
    port: await freePort(),
    databaseName: 'call_coach_bench',
    ephemeral: false,
    log,
    extraFlags: args['shared-buffers'] ? ['-c', `shared_buffers=${args['shared-buffers']}`] : [],
  });
  return {
    url: instance.url,
    stop: async () => {
      await instance.stop();
      if (!args.reuse) await rm(path.dirname(dataDir), { recursive: true, force: true });
    },
  };
}

/**
 * Every run starts from the seeded data: the calls earlier runs created (POST /calls, the ingest
 * call and its 10k segments, replaced ten times) are removed and vacuumed away, so their rows and
 * dead index entries do not skew this run's list and search figures.
 */
async function restoreSeededState(url: string): Promise<void> {
  const client = new pg.Client(maintenanceSession(url));
  await client.connect();
  try {
    const removed = await client.query(`DELETE FROM calls WHERE gong_call_id !~ '${SEEDED_GONG_CALL_ID}'`);
    const started = performance.now();
    await client.query('VACUUM ANALYZE calls, speakers, transcripts, reps');
    log(`removed ${removed.rowCount} calls earlier runs created; vacuumed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await client.end();
  }
}

async function prepare(url: string): Promise<void> {
  const migrating = performance.now();
  const applied = await migrate(url);
  if (applied.length) log(`migrations applied: ${applied.join(', ')} in ${((performance.now() - migrating) / 1000).toFixed(1)} s`);
  const seeded = await seededSize(url);
  if (seeded) {
    log(`reusing seeded database: ${JSON.stringify(seeded)}`);
    await restoreSeededState(url);
    return;
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM calls');
  await client.end();
  if (rows[0]!.n > 0) throw new Error('The bench database has calls but no bench_seed record; give it an empty database.');
  log(`seeding ${size.calls} calls, ${size.segments} segments over ${size.transcriptCalls} calls…`);
  const started = performance.now();
  await seedDatabase(url, size, log);
  log(`seeded in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

// ---------------------------------------------------------------- processes
/** What each server runs: the bundles (the service's by `npm run build`, as `npm start`), or the sources. */
async function buildEntries(): Promise<{ service: string; bare: string }> {
  if (args['from-source']) return { service: 'server/main.ts', bare: 'scripts/bench-bare-server.ts' };
  const built = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  if (built.status !== 0) throw new Error('npm run build failed');
  const bare = path.join('.data', 'bench', 'bare-server.js');
  await build({
    entryPoints: ['scripts/bench-bare-server.ts'], absWorkingDir: ROOT, outfile: bare,
    bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'warning',
  });
  return { service: 'dist/server.js', bare };
}

type Proc = ServerProcess & { name: string };

async function startProcess(name: string, script: string, env: Record<string, string>, nodeArgs: string[] = []): Promise<Proc> {
  const server = await startServerProcess({
    name,
    args: [...nodeArgs, ...(script.endsWith('.ts') ? ['--import', 'tsx'] : []), script],
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, HOST: '127.0.0.1', ...env },
    outputLimit: 20_000,
  });
  return { ...server, name };
}

/** VmRSS of `pid` right now, in kB (throws when the process is gone). */
const vmRssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);

/** Samples VmRSS of `pid` every 100 ms until stopped; returns the peak in MB. */
function sampleRss(pid: number): () => number {
  let peak = 0;
  const read = () => {
    try {
      peak = Math.max(peak, vmRssKb(pid));
    } catch {
      // the process is gone
    }
  };
  read();
  const timer = setInterval(read, 100);
  return () => {
    clearInterval(timer);
    read();
    return peak / 1024;
  };
}

// ---------------------------------------------------------------- load
type Row = {
  scenario: string;
  server: string;
  connections: number | string;
  /** Round of an interleaved comparison (undefined: a single run). */
  round?: number;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  ok: number;
  non2xx: number;
  errors: number;
  rssMb: number;
  /** Server CPU (utime + stime from /proc/PID/stat) per request answered, µs. */
  cpuUs: number;
  /** The load generator's own CPU over the run, % of one core. */
  loadCpu: number;
};

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** utime + stime of `pid` so far, in seconds (fields 14 and 15 of /proc/PID/stat). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** wrk from Debian; installed here when missing and we are root, as .ci/run installs chromium. */
function ensureWrk(): void {
  if (spawnSync('sh', ['-c', 'command -v wrk']).status === 0) return;
  if (process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v apt-get']).status === 0) {
    log('wrk is missing: installing it with apt-get');
    const installed = spawnSync('sh', ['-c', 'apt-get update -qq && apt-get install -y -qq wrk'], { stdio: 'inherit' });
    if (installed.status === 0) return;
  }
  throw new Error('npm run bench needs wrk (Debian: apt-get install wrk); run it as root to have it installed.');
}

/**
 * What every wrk script shares: a thread number for unique ids, and a summary line (JSON) at
 * the end. Latencies are µs.
 */
const WRK_PRELUDE = `
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
function init(args) math.randomseed(os.time() * 1000 + (tid or 1)) end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%.0f,"p99":%.0f,"max":%.0f}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
`;

const lua = (value: string) => `"${value.replace(/[\\"]/g, '\\$&')}"`;
const luaHeaders = (headers: Record<string, string>) =>
  `{ ${Object.entries(headers).map(([name, value]) => `[${lua(name)}] = ${lua(value)}`).join(', ')} }`;

type Load = {
  scenario: string;
  proc: Proc;
  connections: number;
  duration?: number;
  round?: number;
  /** Lua defining wrk's `request` function (it may use `headers`, `tid`). */
  script: string;
  headers?: Record<string, string>;
};

let scriptCount = 0;

/** One wrk run (one thread: it is not the bottleneck here, see loadCpu) against one server. */
async function load(spec: Load): Promise<Row> {
  const duration = spec.duration ?? DURATION;
  const file = path.join(os.tmpdir(), `call-coach-bench-${process.pid}-${scriptCount++}.lua`);
  await writeFile(file, `${WRK_PRELUDE}\nlocal headers = ${luaHeaders(spec.headers ?? {})}\n${spec.script}\n`);
  const pid = spec.proc.pid;
  const stopRss = sampleRss(pid);
  const cpuBefore = cpuSeconds(pid);
  // bash's `times` prints the CPU its children used: wrk's own, exactly.
  const command = `wrk -t1 -c${spec.connections} -d${duration}s --timeout 30s -s ${file} ${spec.proc.baseURL}; times`;
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn('bash', ['-c', command], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.on('error', reject);
    child.on('exit', () => resolve(text));
  });
  const cpu = cpuSeconds(pid) - cpuBefore;
  const rssMb = stopRss();
  await rm(file, { force: true });
  const summary = /WRKJSON (\{.*\})/.exec(output);
  if (!summary) throw new Error(`wrk printed no summary:\n${output}`);
  const result = JSON.parse(summary[1]!) as Record<'requests' | 'duration_us' | 'connect' | 'read' | 'write' | 'status' | 'timeout' | 'p50' | 'p99' | 'max', number>;
  const children = output.trim().split('\n').at(-1)!.match(/(\d+)m([\d.]+)s/g)!.map((t) => {
    const [, m, s] = /(\d+)m([\d.]+)s/.exec(t)!;
    return Number(m) * 60 + Number(s);
  });
  const seconds = result.duration_us / 1e6;
  if (result.status > 0) log(`WARNING: ${spec.scenario} on ${spec.proc.name}: ${result.status} of ${result.requests} responses were not 2xx; its figures are not of successful requests`);
  return {
    scenario: spec.scenario,
    server: spec.proc.name,
    connections: spec.connections,
    round: spec.round,
    rps: result.requests / seconds,
    p50: result.p50 / 1000,
    p99: result.p99 / 1000,
    max: result.max / 1000,
    ok: result.requests - result.status,
    non2xx: result.status,
    errors: result.connect + result.read + result.write + result.timeout,
    rssMb,
    cpuUs: (cpu * 1e6) / Math.max(1, result.requests),
    loadCpu: (100 * children.reduce((a, b) => a + b, 0)) / seconds,
  };
}

/**
 * The same load against several servers in interleaved rounds (A B C, B C A, C A B, …), so that
 * whatever else the machine does hits every server alike.
 */
async function interleaved(spec: Omit<Load, 'proc' | 'round' | 'script'> & { procs: Proc[]; script: (proc: Proc, round: number) => string }): Promise<Row[]> {
  const rows: Row[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = spec.procs.map((_, i) => spec.procs[(i + round) % spec.procs.length]!);
    for (const proc of order) rows.push(await load({ ...spec, proc, round, script: spec.script(proc, round) }));
  }
  return rows;
}

/** wrk's request function for GET /calls/{id} of random seeded calls (ids read from `idsFile`). */
const getCallScript = (idsFile: string) => `
local ids = {}
for line in io.lines(${lua(idsFile)}) do ids[#ids + 1] = line end
request = function() return wrk.format("GET", "/calls/" .. ids[math.random(#ids)], headers) end
`;

/** wrk's request function for POST /calls: a new call with 3 speakers, unique ids per run (`run`, digits). */
const postCallScript = (run: string, emails: string[]) => `
local emails = { ${emails.slice(0, 200).map(lua).join(', ')} }
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"gong_call_id":"8${run}%d%07d","title":"Bench call %d","scheduled_at":"2026-11-02T15:00:00Z","call_type":"discovery","product":"prefect","metadata":{"system":"Zoom"},"speakers":[{"name":"Rep","email":"%s","role":"ae","company_side":true},{"name":"Buyer","email":"buyer${run}.%d.%d@acme.com","role":"prospect","company_side":false},{"name":"Champion","email":"champion${run}.%d.%d@acme.com","role":"customer","company_side":false}]}',
    tid, n, n, emails[(n % #emails) + 1], tid, n, tid, n)
  return wrk.format("POST", "/calls", headers, body)
end
`;

/** wrk's request function for one of `paths` at random. */
const pathsScript = (paths: string[]) => `
local paths = { ${paths.map(lua).join(', ')} }
request = function() return wrk.format("GET", paths[math.random(#paths)], headers) end
`;

/** Sequential PUTs of one 10k-sentence transcript: the time per ingest as the client sees it. */
async function ingest(proc: Proc, token: string, runs: number): Promise<Row> {
  const gongSpeakers = ['9100000000000000001', '9100000000000000002', '9100000000000000003'];
  const create = await fetch(`${proc.baseURL}/calls`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      gong_call_id: `7${Date.now()}`,
      title: 'Bench ingest call',
      scheduled_at: new Date().toISOString(),
      speakers: [
        { name: 'Sarah Chen', email: 'sarah.chen@example.com', role: 'ae', company_side: true, gong_speaker_id: gongSpeakers[0] },
        { name: 'Buyer One', email: 'buyer.one@acme.com', role: 'prospect', company_side: false, gong_speaker_id: gongSpeakers[1] },
        { name: 'Buyer Two', email: 'buyer.two@acme.com', role: 'customer', company_side: false, gong_speaker_id: gongSpeakers[2] },
      ],
    }),
  });
  if (create.status !== 201) throw new Error(`could not create the ingest call: ${create.status} ${await create.text()}`);
  const { id } = (await create.json()) as { id: string };
  let n = 0;
  const word = () => VOCABULARY[Math.floor(VOCABULARY.length * Math.random() ** 3)]!;
  const monologues = Array.from({ length: 500 }, (_, m) => ({
    speakerId: gongSpeakers[m % 3]!,
    topic: m % 4 === 0 ? 'Pricing' : null,
    sentences: Array.from({ length: 20 }, () => {
      const start = n++ * 4500;
      const text = Array.from({ length: 6 + (n % 15) }, word).join(' ');
      return { start, end: start + 3000, text: text[0]!.toUpperCase() + text.slice(1) + (n % 5 ? '.' : '?') };
    }),
  }));
  const body = JSON.stringify(monologues);
  const stopRss = sampleRss(proc.pid);
  const times: number[] = [];
  let failures = 0;
  let cpu = 0;
  for (let run = 0; run <= runs; run++) {
    const cpuBefore = cpuSeconds(proc.pid);
    const started = performance.now();
    const response = await fetch(`${proc.baseURL}/calls/${id}/transcript`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body,
    });
    await response.arrayBuffer();
    const ms = performance.now() - started;
    if (run === 0) continue; // a warm-up
    if (response.status !== 200) failures++;
    times.push(ms);
    cpu += cpuSeconds(proc.pid) - cpuBefore;
  }
  times.sort((a, b) => a - b);
  return {
    scenario: `PUT transcript, 10,000 segments (${(body.length / 1e6).toFixed(1)} MB), ${runs} runs`,
    server: proc.name,
    connections: 1,
    rps: 1000 / (times.reduce((a, b) => a + b, 0) / times.length),
    p50: percentile(times, 50),
    p99: percentile(times, 99),
    max: times[times.length - 1]!,
    ok: runs - failures,
    non2xx: failures,
    errors: 0,
    rssMb: stopRss(),
    cpuUs: (cpu * 1e6) / runs,
    loadCpu: NaN,
  };
}

// ---------------------------------------------------------------- report
const fmt = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '–');

function table(rows: Row[]): string {
  const lines = [
    '| scenario | server | conns | round | req/s | p50 ms | p99 ms | max ms | 2xx | non-2xx | errors | server CPU µs/req | wrk CPU % | peak RSS MB |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.scenario} | ${r.server} | ${r.connections} | ${r.round ?? ''} | ${fmt(r.rps, 0)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.max)} | ${r.ok} | ${r.non2xx} | ${r.errors} | ${fmt(r.cpuUs, 0)} | ${fmt(r.loadCpu, 0)} | ${fmt(r.rssMb, 0)} |`,
    );
  }
  return lines.join('\n');
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length % 2 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
};

/**
 * One line per server of an interleaved comparison: medians over the rounds, and the service
 * against each floor as the median of the per-round ratios (each round's servers ran side by side).
 */
function comparison(rows: Row[], floors: string[]): string {
  const servers = [...new Set(rows.map((r) => r.server))];
  const ofServer = (server: string) => rows.filter((r) => r.server === server).sort((a, b) => a.round! - b.round!);
  const ratio = (server: string, floor: string, pick: (r: Row) => number) => {
    const mine = ofServer(server);
    const theirs = ofServer(floor);
    return median(mine.map((r, i) => pick(r) / pick(theirs[i]!)));
  };
  const header = ['scenario', 'server', 'rounds', 'req/s', 'p99 ms', 'server CPU µs/req', 'peak RSS MB', 'wrk CPU %', 'non-2xx', 'errors',
    ...floors.flatMap((floor) => [`req/s vs ${floor}`, `CPU/req vs ${floor}`, `p99 vs ${floor}`])];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i < 2 ? '---' : '--:')).join('|')}|`];
  for (const server of servers) {
    const own = ofServer(server);
    const cells = [
      own[0]!.scenario, server, String(own.length), fmt(median(own.map((r) => r.rps)), 0), fmt(median(own.map((r) => r.p99))),
      fmt(median(own.map((r) => r.cpuUs)), 0), fmt(Math.max(...own.map((r) => r.rssMb)), 0), fmt(median(own.map((r) => r.loadCpu)), 0),
      String(own.reduce((n, r) => n + r.non2xx, 0)), String(own.reduce((n, r) => n + r.errors, 0)),
      ...floors.flatMap((floor) =>
        floor === server ? ['', '', ''] : [`${fmt(100 * ratio(server, floor, (r) => r.rps), 0)}%`, `${fmt(ratio(server, floor, (r) => r.cpuUs), 2)}×`, `${fmt(ratio(server, floor, (r) => r.p99), 2)}×`],
      ),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

const loadavg = () => os.loadavg().map((l) => l.toFixed(2)).join(', ');

/** A Slonik query as pg takes it: Slonik's `$slonik_N` placeholders renamed as its executeQuery does. */
function forPg(query: { sql: string; values: readonly unknown[] }): [string, unknown[]] {
  return [query.sql.replaceAll('$slonik_', '$'), [...query.values]];
}

async function explain(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url, options: '-c TimeZone=UTC' } as pg.ClientConfig);
  await client.connect();
  const out: string[] = [];
  const run = async (title: string, text: string, params: unknown[]) => {
    await client.query(`EXPLAIN (ANALYZE, BUFFERS) ${text}`, params); // warm
    const { rows } = await client.query(`EXPLAIN (ANALYZE, BUFFERS) ${text}`, params);
    out.push(`### ${title}\n\n\`\`\`\n${rows.map((r) => r['QUERY PLAN']).join('\n')}\n\`\`\``);
  };
  // db/transcripts.ts's own statement, for an unrestricted scope (manager, admin, service).
  const search = (q: string) => forPg(searchQuery(UNRESTRICTED, { q, limit: 50 }));
  await run('Transcript search, selective term (`q=hipaa`), first page of 50', ...search('hipaa'));
  await run('Transcript search, common term (`q=pipeline`), first page of 50', ...search('pipeline'));
  // Every term of the load mix: how many segments match, which index PostgreSQL chose, how long.
  const termRows: string[] = [];
  for (const term of SEARCH_TERMS) {
    const [text, values] = search(term);
    await client.query(`EXPLAIN (ANALYZE) ${text}`, values); // warm
    const plan = (await client.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, values)).rows[0]['QUERY PLAN'][0];
    const planText = JSON.stringify(plan.Plan);
    const index = planText.includes('transcripts_recency_idx') ? 'recency btree, newest first' : planText.includes('transcripts_search_vector_idx') ? 'GIN, then sort' : 'other';
    const matches = (await client.query(`SELECT count(*)::int AS n FROM transcripts WHERE search_vector @@ websearch_to_tsquery('english', $1)`, [term])).rows[0].n;
    termRows.push(`| \`${term}\` | ${matches} | ${index} | ${Number(plan['Execution Time']).toFixed(1)} |`);
  }
  out.push(['### Transcript search, every term of the load mix, first page of 50', '', '| q | matching segments | index | execution ms |', '|---|--:|---|--:|', ...termRows].join('\n'));
  const list = `
    SELECT json_build_object('id', c.id, 'title', c.title, 'scheduled_at', c.scheduled_at,
      'speakers', COALESCE((SELECT json_agg(json_build_object('id', sp.id, 'name', sp.name, 'email', sp.email)
                             ORDER BY sp.added_order) FROM speakers sp WHERE sp.call_id = c.id), '[]'::json)) AS call
    FROM calls c WHERE TRUE AND c.product = $1 ORDER BY c.scheduled_at DESC, c.id DESC LIMIT 51`;
  await run('Calls list page (`product=prefect`, limit 50; speaker JSON abbreviated)', list, ['prefect']);
  const listRep = `
    SELECT c.id FROM calls c
    WHERE TRUE AND EXISTS (SELECT 1 FROM speakers who WHERE who.call_id = c.id AND lower(who.email) = lower($1))
    ORDER BY c.scheduled_at DESC, c.id DESC LIMIT 51`;
  await run('Calls list page (`rep_email=sarah.chen@example.com`, limit 50)', listRep, ['sarah.chen@example.com']);

  // The ingest's INSERT of 10,000 sentences into a seeded call, rolled back.
  const call = (await client.query<{ id: string; gong: string[] }>(`
    SELECT c.id, array_agg(sp.gong_speaker_id ORDER BY sp.added_order) AS gong
    FROM calls c JOIN speakers sp ON sp.call_id = c.id
    WHERE c.gong_call_id = '1000000099999' GROUP BY c.id`)).rows[0];
  if (call) {
    // 500 monologues of 20 sentences, speakers taking turns, db/transcripts.ts's own INSERT.
    const word = (i: number, k: number) => VOCABULARY[(i * 31 + k * 17) % VOCABULARY.length]!;
    const transcript = Array.from({ length: 500 }, (_, m) => ({
      speakerId: call.gong[m % call.gong.length]!,
      topic: m % 4 === 0 ? 'Pricing' : null,
      sentences: Array.from({ length: 20 }, (_, k) => {
        const i = m * 20 + k;
        return { start: i * 4500, end: i * 4500 + 3000, text: Array.from({ length: 6 + (i % 15) }, (_, w) => word(i, w)).join(' ') + '.' };
      }),
    }));
    const [insert, params] = forPg(insertSegmentsQuery(call.id, transcript));
    await client.query('BEGIN');
    await client.query('DELETE FROM transcripts WHERE call_id = $1', [call.id]);
    const { rows } = await client.query(`EXPLAIN (ANALYZE, BUFFERS) ${insert}`, params);
    await client.query('ROLLBACK');
    out.push(`### Transcript ingest INSERT, 10,000 sentences (rolled back)\n\n\`\`\`\n${rows.map((r) => r['QUERY PLAN']).join('\n')}\n\`\`\``);
    out.push(await ingestWithout(client, insert, params, call.id));
  }
  await client.end();
  return out.join('\n\n');
}

/**
 * What each part of the schema costs the ingest: the same INSERT timed with one index or
 * constraint dropped (inside a transaction that is rolled back), and with all of them dropped,
 * rounds interleaved so the machine's load hits every variant alike.
 */
async function ingestWithout(client: pg.Client, insert: string, params: unknown[], callId: string): Promise<string> {
  const dropped: [string, string[]][] = [
    ['(schema as migrated)', []],
    ['without the speaker foreign key', ['ALTER TABLE transcripts DROP CONSTRAINT transcripts_speaker_id_fkey']],
    ['without the call foreign key', ['ALTER TABLE transcripts DROP CONSTRAINT transcripts_call_fkey']],
    ['without the full-text GIN index', ['DROP INDEX transcripts_search_vector_idx']],
    ['without the recency index', ['DROP INDEX transcripts_recency_idx']],
    ['without the speaker_id index', ['DROP INDEX transcripts_speaker_id_idx']],
    ['without any index or constraint', [
      'ALTER TABLE transcripts DROP CONSTRAINT transcripts_speaker_id_fkey', 'ALTER TABLE transcripts DROP CONSTRAINT transcripts_call_fkey',
      'DROP INDEX transcripts_search_vector_idx', 'DROP INDEX transcripts_recency_idx', 'DROP INDEX transcripts_speaker_id_idx',
      'ALTER TABLE transcripts DROP CONSTRAINT transcripts_call_id_sequence_number_key',
      'ALTER TABLE transcripts DROP CONSTRAINT transcripts_pkey CASCADE',
    ]],
  ];
  const times = new Map<string, number[]>(dropped.map(([name]) => [name, []]));
  for (let round = 0; round < 4; round++) {
    for (const [name, statements] of dropped) {
      await client.query('BEGIN');
      for (const statement of statements) await client.query(statement);
      await client.query('DELETE FROM transcripts WHERE call_id = $1', [callId]);
      const started = performance.now();
      await client.query(insert, params);
      const ms = performance.now() - started;
      await client.query('ROLLBACK');
      if (round > 0) times.get(name)!.push(ms); // the first round warms up
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const lines = [...times].map(([name, values]) => `| ${name} | ${median(values).toFixed(0)} | ${values.map((v) => v.toFixed(0)).join(', ')} |`);
  return [
    '### Transcript ingest INSERT, 10,000 sentences, with parts of the schema dropped (rolled back)',
    '',
    '| schema | median ms | runs ms |',
    '|---|--:|---|',
    ...lines,
  ].join('\n');
}

// ---------------------------------------------------------------- main
const SEARCH_TERMS = [
  'hipaa', 'fedramp audit', 'soc2 pentest', '"data residency"', 'saml sso', 'kubernetes migration',
  'pipeline', 'pricing', 'team data', 'customers', 'budget timeline', 'integration -salesforce',
];

const target = await database();
const procs: Proc[] = [];
try {
  ensureWrk();
  await prepare(target.url);
  const client = new pg.Client({ connectionString: target.url });
  client.on('error', () => {}); // a failure below is thrown by the query itself
  await client.connect();
  const ids = (await client.query<{ id: string }>(`SELECT id FROM calls WHERE gong_call_id ~ '${SEEDED_GONG_CALL_ID}'`)).rows.map((r) => r.id);
  const segments = (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM transcripts')).rows[0]!.n;
  const emails = (await client.query<{ email: string }>('SELECT email FROM reps ORDER BY email')).rows.map((r) => r.email);
  await client.end();
  const idsFile = path.join(os.tmpdir(), `call-coach-bench-${process.pid}-ids.txt`);
  await writeFile(idsFile, `${ids.join('\n')}\n`);

  const secret = randomBytes(32).toString('hex');
  const profileDir = path.join(ROOT, '.data', 'bench', 'profiles');
  if (args.profile) await mkdir(profileDir, { recursive: true });
  const entries = await buildEntries();
  const service = await startProcess(
    'service',
    entries.service,
    {
      NODE_ENV: 'production', LOG_LEVEL: 'warn', JWT_SECRET: secret, DATABASE_URL: target.url,
      DB_POOL_MAX: String(POOL), MIGRATE_ON_START: 'false', MALLOC_ARENA_MAX: SERVICE_MALLOC_ARENA_MAX,
      // The limiter still counts every request (its cost is measured); the quota just never runs out.
      RATE_LIMIT_REQUESTS: '1000000000',
    },
    [...args['node-args'].split(' ').filter(Boolean), ...(args.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])],
  );
  procs.push(service);
  log(`service node args: ${args['node-args'] || '(none)'}; idle RSS ${Math.round(vmRssKb(service.pid) / 1024)} MB`);
  const floor = (name: string, driver: string) =>
    startProcess(name, entries.bare, { DATABASE_URL: target.url, DB_POOL_MAX: String(POOL), BARE_DRIVER: driver },
      args.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.join(profileDir, name)}`] : []);
  const barePg = await floor('bare node+pg', 'pg');
  procs.push(barePg);
  const bareSlonik = await floor('bare node+Slonik', 'slonik');
  procs.push(bareSlonik);
  const token = jwt.sign({ sub: 'bench', email: 'bench@example.com', role: 'admin' }, secret, { algorithm: 'HS256', expiresIn: 3600 });
  // Every server gets the same headers; the floors ignore them.
  const auth = { authorization: `Bearer ${token}` };
  const json = { ...auth, 'content-type': 'application/json' };

  const startLoad = loadavg();
  const startUptime = spawnSync('uptime', { encoding: 'utf8' }).stdout.trim();
  log(`uptime before: ${startUptime}`);
  // Warm all three (JIT, connections, PostgreSQL's cache).
  for (const proc of [service, barePg, bareSlonik]) {
    await load({ scenario: 'warm-up', proc, connections: 32, duration: 3, script: getCallScript(idsFile), headers: auth });
  }

  const floors = [barePg.name, bareSlonik.name];
  const comparisons: string[] = [];
  const rounds: Row[] = [];
  if (ONLY.has('get')) {
    const rows = await interleaved({ scenario: 'GET /calls/{id}', procs: [service, barePg, bareSlonik], connections: 32, script: () => getCallScript(idsFile), headers: auth });
    rounds.push(...rows);
    comparisons.push(comparison(rows, floors));
    log(comparisons.at(-1)!);
  }
  let run = 0;
  const runId = String(Date.now()).slice(-6);
  if (ONLY.has('post')) {
    const rows = await interleaved({
      scenario: 'POST /calls (3 speakers)', procs: [service, barePg, bareSlonik], connections: 32, headers: json,
      script: () => postCallScript(`${runId}${String(run++).padStart(2, '0')}`, emails),
    });
    rounds.push(...rows);
    comparisons.push(comparison(rows, floors));
    log(comparisons.at(-1)!);
  }

  const rows: Row[] = [];
  const products = ['prefect', 'prefect-cloud', 'marvin', 'controlflow', 'fastmcp'];
  for (const connections of ONLY.has('list') ? [32, 4] : []) rows.push(
    await load({ scenario: 'GET /calls?product=…&limit=50', proc: service, connections, headers: auth, script: pathsScript(products.map((p) => `/calls?product=${p}&limit=50`)) }),
  );
  for (const connections of ONLY.has('search') ? [32, 4] : []) rows.push(
    await load({
      scenario: `GET /transcripts/search?q=… (${SEARCH_TERMS.length} terms, selective+common)`, proc: service, connections, headers: auth,
      script: pathsScript(SEARCH_TERMS.map((term) => `/transcripts/search?q=${encodeURIComponent(term)}`)),
    }),
  );
  if (ONLY.has('ingest')) rows.push(await ingest(service, token, INGEST_RUNS));
  for (const connections of ONLY.has('concurrency') ? [50, 500] : []) {
    rows.push(await load({ scenario: `GET /calls/{id}, pool of ${POOL}`, proc: service, connections, script: getCallScript(idsFile), headers: auth }));
  }
  // The largest transcript the contract allows, against the statement timeout the service applies
  // (its environment does not set one: the default).
  const limitsReport = ONLY.has('limits')
    ? await transcriptLimitScenario({
        baseURL: service.baseURL, token, log, runs: Number(args['limit-runs']), limits: transcriptLimits(),
        statementTimeoutMs: loadConfig({ NODE_ENV: 'production', JWT_SECRET: secret }).pool.statementTimeoutMs,
      })
    : '';
  await rm(idsFile, { force: true });
  const endLoad = loadavg();
  const endUptime = spawnSync('uptime', { encoding: 'utf8' }).stdout.trim();

  const report = [
    `## ${new Date().toISOString()}`,
    '',
    `- machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB RAM, ${os.type()} ${os.release()}; Node ${process.version}`,
    `- data: ${ids.length} seeded calls, ${segments} transcript segments over ${size.transcriptCalls} calls; ${BENCH_DB()}`,
    `- command: \`npm run bench -- ${process.argv.slice(2).join(' ')}\`; wrk (1 thread), ${DURATION} s per run, ${ROUNDS} interleaved rounds (order rotated) for the comparisons, pool ${POOL} for every server; service node flags: ${args['node-args'] || '(none)'}, MALLOC_ARENA_MAX=${SERVICE_MALLOC_ARENA_MAX}; servers run ${args['from-source'] ? 'from source through tsx' : 'as esbuild bundles (dist/server.js, as npm start)'}`,
    `- uptime before: \`${startUptime}\``,
    `- uptime after: \`${endUptime}\``,
    `- load average (1, 5, 15 min): before ${startLoad}; after ${endLoad}`,
    '',
    'Interleaved comparisons (medians over rounds; ratios are medians of per-round ratios):',
    '',
    comparisons.join('\n\n'),
    '',
    'Every round:',
    '',
    table(rounds),
    ...(rows.length ? ['', 'The service alone:', '', table(rows)] : []),
    ...(limitsReport ? ['', limitsReport] : []),
  ].join('\n');
  console.log(report);
  if (!args['no-explain']) console.log(`\n${await explain(target.url)}`);
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  for (const proc of procs) await proc.stop(15_000);
  await target.stop();
}

function BENCH_DB(): string {
  if (process.env.BENCH_DATABASE_URL) return 'BENCH_DATABASE_URL';
  const buffers = args['shared-buffers'] ? `shared_buffers=${args['shared-buffers']}` : 'default settings (shared_buffers 128MB)';
  return `embedded PostgreSQL 17, ${buffers}, fsync on${args.reuse ? ', reused' : ''}`;
}


