/**
 * `npm run gong:sync -- --from <date> --to <date>`: one Gong sync run to its end, in this process.
 * Progress goes to stderr, the run (as GET /sync/gong/runs/{id} shows it) to stdout at the end.
 * Exit 0 when the run completed; 1 with the reason otherwise (failed, paused by the daily budget,
 * interrupted, bad arguments). An unfinished run of the same window is resumed from its checkpoint,
 * and a run whose process died is taken over, since only one run may be active at a time.
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { claimRun, createRun, findUnfinishedRun, getRun, type ClaimedRun } from '../db/gong-sync.js';
import { migrate } from '../db/migrate.js';
import { ConfigError, loadConfig } from '../server/config.js';
import { openPool, resolveDatabase } from '../server/database-startup.js';
import { executeRun, leaseOwner, type RunOutcome } from '../server/gong-sync.js';

const say = (line: string) => process.stderr.write(`gong-sync: ${line}\n`);

function fail(reason: string): never {
  say(`failed: ${reason}`);
  process.exit(1);
}

/** A date (YYYY-MM-DD, UTC midnight) or an RFC 3339 timestamp, as RFC 3339 UTC. */
function instant(name: string, value: string | undefined): string {
  if (!value) fail(`--${name} is required (a date such as 2026-11-01, or an RFC 3339 time).`);
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value;
  const time = Date.parse(iso);
  if (!/^\d{4}-\d{2}-\d{2}(T.*)?$/.test(iso) || Number.isNaN(time)) fail(`--${name} "${value}" is not a date or an RFC 3339 time.`);
  return new Date(time).toISOString();
}

let args;
try {
  args = parseArgs({ options: { from: { type: 'string' }, to: { type: 'string' } }, strict: true }).values;
} catch (error) {
  fail(`${(error as Error).message}. Usage: npm run gong:sync -- --from <date> --to <date>`);
}
const window = { from: instant('from', args.from), to: instant('to', args.to) };
if (window.from >= window.to) fail('--from must be before --to.');

let config;
try {
  config = loadConfig();
} catch (error) {
  fail(error instanceof ConfigError ? error.message : String(error));
}
const auth = config.gongSync.auth;
if (!auth) fail('Gong credentials are not set: GONG_ACCESS_KEY and GONG_ACCESS_KEY_SECRET, or GONG_ACCESS_TOKEN.');

// Library logs (embedded PostgreSQL) go to stderr with the progress; stdout carries the result only.
const logger = pino({ level: config.logLevel === 'info' ? 'warn' : config.logLevel }, pino.destination(2));
const target = await resolveDatabase(config, logger);
// The pool as the service opens it (the timeouts made the role's defaults first).
const db = await openPool(target.url, config);
const stopping = new AbortController();
let exitCode = 1;
try {
  if (config.migrateOnStart) await migrate(config.migrationDatabaseUrl ?? target.url);
  const owner = leaseOwner();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.removeAllListeners(signal);
    process.on(signal, () => stopping.abort(new Error(`interrupted by ${signal}`)));
  }
  const resumed = await findUnfinishedRun(db, window);
  const runId = resumed ?? (await createRun(db, { trigger: 'cli', ...window })).id;
  say(`${resumed ? 'resuming' : 'started'} run ${runId} for calls started from ${window.from} to ${window.to} (${config.gongSync.baseUrl})`);

  const options = {
    db,
    config: { ...config.gongSync, auth },
    owner,
    signal: stopping.signal,
    progress: ({ run, counts, totalRecords }: { run: ClaimedRun; counts: Record<string, number>; totalRecords: number | null }) =>
      say(
        `run ${run.id.slice(0, 8)} page ${counts.pages}: ${counts.calls_seen}${totalRecords !== null ? ` of ${totalRecords}` : ''} calls seen, ` +
          `${counts.created} created, ${counts.updated} updated, ${counts.unchanged} unchanged, ${counts.private_skipped} private, ` +
          `${counts.transcripts_ingested} transcripts; ${counts.requests} requests, ${counts.rate_limited} × 429, ${counts.retries} retries`,
      ),
  };

  let outcome: RunOutcome | null = null;
  let waiting = false;
  while (outcome === null) {
    if (stopping.signal.aborted) fail(`${stopping.signal.reason.message} while waiting; run ${runId} is still queued.`);
    const mine = await claimRun(db, { owner, leaseSeconds: config.gongSync.leaseSeconds, runId });
    if (mine) {
      outcome = await executeRun(options, mine);
      break;
    }
    // A run left by a process that died blocks every other one: finish it first.
    const orphan = await claimRun(db, { owner, leaseSeconds: config.gongSync.leaseSeconds, takeoverOnly: true });
    if (orphan) {
      say(`taking over run ${orphan.id} (${orphan.window.from} to ${orphan.window.to}), whose process stopped renewing its lease`);
      const other = await executeRun(options, orphan);
      say(`run ${orphan.id} ${other.status}`);
      continue;
    }
    const current = await getRun(db, runId);
    if (!current) fail(`run ${runId} was deleted.`);
    if (current.status === 'completed' || current.status === 'failed') {
      outcome = current.status === 'completed' ? { status: 'completed', counts: current.counts } : { status: 'failed', error: current.error ?? 'failed', counts: current.counts };
      break;
    }
    if (current.status === 'queued' && current.resume_after && Date.parse(current.resume_after) > Date.now()) {
      fail(`run ${runId} is paused until ${current.resume_after}: ${current.error ?? ''}`.trim());
    }
    if (!waiting) say(`waiting: another sync run is active (only one runs at a time); run ${runId} starts when it ends`);
    waiting = true;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }

  const final = await getRun(db, runId);
  process.stdout.write(`${JSON.stringify(final)}\n`);
  const c = outcome.counts;
  const summary =
    `${c.pages} pages, ${c.calls_seen} calls seen: ${c.created} created, ${c.updated} updated, ${c.unchanged} unchanged, ` +
    `${c.private_skipped} private skipped (${c.private_removed} removed), ${c.transcripts_ingested} transcripts ingested; ` +
    `${c.requests} requests, ${c.rate_limited} × 429, ${c.retries} retries`;
  if (outcome.status === 'completed') {
    say(`completed run ${runId}: ${summary}`);
    exitCode = 0;
  } else if (outcome.status === 'failed') {
    const cause = outcome.cause instanceof Error && outcome.cause.message !== outcome.error ? ` [cause: ${outcome.cause.message}]` : '';
    say(`failed: run ${runId}: ${outcome.error}${cause} (${summary})`);
  } else if (outcome.status === 'queued') {
    say(`stopped: run ${runId} is queued again: ${outcome.reason ?? ''} (${summary})`);
  } else {
    say(`stopped: run ${runId}: ${outcome.reason} (${summary})`);
  }
} catch (error) {
  say(`failed: ${(error as Error).message}`);
} finally {
  await db.end().catch(() => {});
  await target.stop().catch(() => {});
}
process.exit(exitCode);
