/**
 * `npm run bench`: the service under load, next to the bare-Node floor, on this machine, in one run.
 *
 *   npm run bench                                   # 100k calls, 1M segments, throwaway embedded PostgreSQL
 *   npm run bench -- --calls 10000 --segments 100000 --duration 5   # a quick run
 *   npm run bench -- --reuse                        # keep the seeded database in .data/bench/ for next time
 *   BENCH_DATABASE_URL=postgres://… npm run bench   # an empty database of yours (seeded once, then reused)
 *   npm run bench -- --profile                      # also V8 CPU profiles of the service (.data/bench/profiles/) and the bare server (…/bare/)
 *
 * It seeds (scripts/bench-seed.ts), builds and starts the service (`MALLOC_ARENA_MAX=2 node
 * --max-semi-space-size=4 dist/server.js` as `npm start` does; other V8 flags with --node-args='…',
 * another arena count with MALLOC_ARENA_MAX=N in the bench's environment; `--from-source` runs both servers'
 * TypeScript through tsx instead, as before the build step existed),
 * NODE_ENV=production, LOG_LEVEL=warn, a random 64-character JWT_SECRET, pool of 10) and the
 * bare server (scripts/bench-bare-server.ts, node:http + pg, pool of 10) on free ports, loads
 * both with autocannon, samples each server's VmRSS from /proc, and prints a Markdown table,
 * then EXPLAIN (ANALYZE, BUFFERS) of the search and list queries. Not part of `npm test`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { build } from 'esbuild';
import jwt from 'jsonwebtoken';
import pg from 'pg';
import { makeTempDataDir, startEmbeddedPostgres } from '../db/embedded.js';
import { migrate } from '../db/migrate.js';
import { UNRESTRICTED } from '../db/scope.js';
import { insertSegmentsQuery, searchQuery } from '../db/transcripts.js';
import { loadConfig } from '../server/config.js';
import { SEEDED_GONG_CALL_ID, seedDatabase, seededSize, VOCABULARY, type SeedSize } from './bench-seed.js';
import { transcriptLimits, transcriptLimitScenario } from './bench-transcript-limits.js';
import { freePort } from './free-port.js';

/** Keep in step with package.json's `start`: the bench measures the service as it is started. */
const SERVICE_NODE_ARGS = '--max-semi-space-size=4';
const SERVICE_MALLOC_ARENA_MAX = process.env.MALLOC_ARENA_MAX ?? '2';
const ROOT = path.resolve(import.meta.dirname, '..');
const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '100000' },
    segments: { type: 'string', default: '1000000' },
    'transcript-calls': { type: 'string', default: '10000' },
    duration: { type: 'string', default: '10' },
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
  const client = new pg.Client({ connectionString: url });
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

type Proc = { name: string; child: ChildProcess; baseURL: string; output: () => string };

async function startProcess(name: string, script: string, env: Record<string, string>, nodeArgs: string[] = []): Promise<Proc> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeArgs, ...(script.endsWith('.ts') ? ['--import', 'tsx'] : []), script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
  child.stderr!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
  const baseURL = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (!(await fetch(`${baseURL}/health`).then((r) => r.ok, () => false))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${name} did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { name, child, baseURL, output: () => output };
}

async function stopProcess(proc: Proc): Promise<void> {
  if (proc.child.exitCode !== null) return;
  const exited = new Promise((resolve) => proc.child.once('exit', resolve));
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** Samples VmRSS of `pid` every 100 ms until stopped; returns the peak in MB. */
function sampleRss(pid: number): () => number {
  let peak = 0;
  const read = () => {
    try {
      const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
      peak = Math.max(peak, kb);
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
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  ok: number;
  non2xx: string;
  errors: number;
  rssMb: number;
  ratio?: string;
};

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

type Load = {
  scenario: string;
  proc: Proc;
  connections: number;
  duration?: number;
  request: () => { method: 'GET' | 'POST' | 'PUT'; path: string; body?: string };
  headers?: Record<string, string>;
};

async function load(spec: Load): Promise<Row> {
  const stopRss = sampleRss(spec.proc.child.pid!);
  const times: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.proc.baseURL,
        connections: spec.connections,
        duration: spec.duration ?? DURATION,
        headers: spec.headers,
        timeout: 30,
        requests: [{ setupRequest: (req) => ({ ...req, ...spec.request() }) }],
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => times.push(responseTime));
  });
  const rssMb = stopRss();
  times.sort((a, b) => a - b);
  const codes = Object.entries(result.statusCodeStats ?? {})
    .filter(([code]) => !code.startsWith('2'))
    .map(([code, stat]) => `${code}×${(stat as { count: number }).count}`);
  const ok = Object.entries(result.statusCodeStats ?? {})
    .filter(([code]) => code.startsWith('2'))
    .reduce((sum, [, stat]) => sum + Number((stat as { count: number }).count), 0);
  return {
    scenario: spec.scenario,
    server: spec.proc.name,
    connections: spec.connections,
    rps: result.requests.average,
    p50: percentile(times, 50),
    p95: percentile(times, 95),
    p99: percentile(times, 99),
    max: times[times.length - 1] ?? NaN,
    ok,
    non2xx: codes.join(' ') || '0',
    errors: result.errors,
    rssMb,
  };
}

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
  const stopRss = sampleRss(proc.child.pid!);
  const times: number[] = [];
  let failures = 0;
  for (let run = 0; run <= runs; run++) {
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
  }
  times.sort((a, b) => a - b);
  return {
    scenario: `PUT transcript, 10,000 segments (${(body.length / 1e6).toFixed(1)} MB), ${runs} runs`,
    server: proc.name,
    connections: 1,
    rps: 1000 / (times.reduce((a, b) => a + b, 0) / times.length),
    p50: percentile(times, 50),
    p95: percentile(times, 95),
    p99: percentile(times, 99),
    max: times[times.length - 1]!,
    ok: runs - failures,
    non2xx: String(failures),
    errors: 0,
    rssMb: stopRss(),
  };
}

// ---------------------------------------------------------------- report
const fmt = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '–');

function table(rows: Row[]): string {
  const lines = [
    '| scenario | server | conns | req/s | p50 ms | p95 ms | p99 ms | max ms | 2xx | non-2xx | errors | peak RSS MB | service/bare |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.scenario} | ${r.server} | ${r.connections} | ${fmt(r.rps, 0)} | ${fmt(r.p50)} | ${fmt(r.p95)} | ${fmt(r.p99)} | ${fmt(r.max)} | ${r.ok} | ${r.non2xx} | ${r.errors} | ${fmt(r.rssMb, 0)} | ${r.ratio ?? ''} |`,
    );
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
  await prepare(target.url);
  const client = new pg.Client({ connectionString: target.url });
  client.on('error', () => {}); // a failure below is thrown by the query itself
  await client.connect();
  const ids = (await client.query<{ id: string }>(`SELECT id FROM calls WHERE gong_call_id ~ '${SEEDED_GONG_CALL_ID}'`)).rows.map((r) => r.id);
  const segments = (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM transcripts')).rows[0]!.n;
  const emails = (await client.query<{ email: string }>('SELECT email FROM reps ORDER BY email')).rows.map((r) => r.email);
  await client.end();

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
    },
    [...args['node-args'].split(' ').filter(Boolean), ...(args.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])],
  );
  procs.push(service);
  log(`service node args: ${args['node-args'] || '(none)'}; idle RSS ${Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${service.child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024)} MB`);
  const bare = await startProcess(
    'bare',
    entries.bare,
    { DATABASE_URL: target.url, DB_POOL_MAX: String(POOL) },
    args.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.join(profileDir, 'bare')}`] : [],
  );
  procs.push(bare);
  const token = jwt.sign({ sub: 'bench', email: 'bench@example.com', role: 'admin' }, secret, { algorithm: 'HS256', expiresIn: 3600 });
  const auth = { authorization: `Bearer ${token}` };
  const randomId = () => ids[Math.floor(Math.random() * ids.length)]!;
  const getCall = () => ({ method: 'GET' as const, path: `/calls/${randomId()}` });

  const startLoad = loadavg();
  log(`load average before: ${startLoad}`);
  // Warm both (JIT, connections, PostgreSQL's cache).
  for (const proc of [service, bare]) await load({ scenario: 'warm-up', proc, connections: 32, duration: 3, request: getCall, headers: auth });

  const rows: Row[] = [];
  if (ONLY.has('get')) {
    const svcGet = await load({ scenario: 'GET /calls/{id}', proc: service, connections: 32, request: getCall, headers: auth });
    const bareGet = await load({ scenario: 'GET /calls/{id}', proc: bare, connections: 32, request: getCall });
    svcGet.ratio = `${((100 * svcGet.rps) / bareGet.rps).toFixed(0)}% req/s`;
    rows.push(svcGet, bareGet);
    log(table(rows));
  }

  let counter = 0;
  const runId = String(Date.now()).slice(-12);
  if (ONLY.has('post')) rows.push(
    await load({
      scenario: 'POST /calls (3 speakers)',
      proc: service,
      connections: 32,
      headers: { ...auth, 'content-type': 'application/json' },
      request: () => {
        counter++;
        return {
          method: 'POST',
          path: '/calls',
          body: JSON.stringify({
            gong_call_id: `8${runId}${String(counter).padStart(7, '0')}`,
            title: `Bench call ${counter}`,
            scheduled_at: new Date().toISOString(),
            call_type: 'discovery',
            product: 'prefect',
            metadata: { system: 'Zoom' },
            speakers: [
              { name: 'Rep', email: emails[counter % emails.length], role: 'ae', company_side: true },
              { name: 'Buyer', email: `buyer${counter}@acme.com`, role: 'prospect', company_side: false },
              { name: 'Champion', email: `champion${counter}@acme.com`, role: 'customer', company_side: false },
            ],
          }),
        };
      },
    }),
  );
  const products = ['prefect', 'prefect-cloud', 'marvin', 'controlflow', 'fastmcp'];
  for (const connections of ONLY.has('list') ? [32, 4] : []) rows.push(
    await load({
      scenario: 'GET /calls?product=…&limit=50',
      proc: service,
      connections,
      headers: auth,
      request: () => ({ method: 'GET', path: `/calls?product=${products[Math.floor(Math.random() * products.length)]}&limit=50` }),
    }),
  );
  for (const connections of ONLY.has('search') ? [32, 4] : []) rows.push(
    await load({
      scenario: `GET /transcripts/search?q=… (${SEARCH_TERMS.length} terms, selective+common)`,
      proc: service,
      connections,
      headers: auth,
      request: () => ({
        method: 'GET',
        path: `/transcripts/search?q=${encodeURIComponent(SEARCH_TERMS[Math.floor(Math.random() * SEARCH_TERMS.length)]!)}`,
      }),
    }),
  );
  log(table(rows));
  if (ONLY.has('ingest')) rows.push(await ingest(service, token, INGEST_RUNS));
  for (const connections of ONLY.has('concurrency') ? [50, 500] : []) {
    rows.push(await load({ scenario: `GET /calls/{id}, pool of ${POOL}`, proc: service, connections, request: getCall, headers: auth }));
  }
  // The statement timeout the service applies (its environment does not set it: the default).
  const serviceConfig = loadConfig({ NODE_ENV: 'production', JWT_SECRET: secret });
  const limitsReport = ONLY.has('limits')
    ? await transcriptLimitScenario({
        baseURL: service.baseURL, token, log, runs: Number(args['limit-runs']),
        limits: transcriptLimits(), statementTimeoutMs: serviceConfig.pool.statementTimeoutMs,
      })
    : '';
  const endLoad = loadavg();

  const report = [
    `## ${new Date().toISOString()}`,
    '',
    `- machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB RAM, ${os.type()} ${os.release()}; Node ${process.version}`,
    `- data: ${ids.length} seeded calls, ${segments} transcript segments over ${size.transcriptCalls} calls; ${BENCH_DB()}`,
    `- command: \`npm run bench -- ${process.argv.slice(2).join(' ')}\`; ${DURATION} s per scenario, autocannon, pool ${POOL} for both servers; service node flags: ${args['node-args'] || '(none)'}, MALLOC_ARENA_MAX=${SERVICE_MALLOC_ARENA_MAX}; servers run ${args['from-source'] ? 'from source through tsx' : 'as esbuild bundles (dist/server.js, as npm start)'}`,
    `- load average (1, 5, 15 min): before ${startLoad}; after ${endLoad}`,
    '',
    table(rows),
    ...(limitsReport ? ['', limitsReport] : []),
  ].join('\n');
  console.log(report);
  if (!args['no-explain']) console.log(`\n${await explain(target.url)}`);
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  for (const proc of procs) await stopProcess(proc);
  await target.stop();
}

function BENCH_DB(): string {
  if (process.env.BENCH_DATABASE_URL) return 'BENCH_DATABASE_URL';
  const buffers = args['shared-buffers'] ? `shared_buffers=${args['shared-buffers']}` : 'default settings (shared_buffers 128MB)';
  return `embedded PostgreSQL 17, ${buffers}, fsync on${args.reuse ? ', reused' : ''}`;
}


