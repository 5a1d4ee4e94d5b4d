/**
 * The Gong sync's data: runs (queue, lease, checkpoint, counts), the daily request budget, the
 * per-call sync state that lets an unchanged call write nothing, and what Gong gives beyond the
 * call itself (trackers, interaction stats, party titles).
 */
import { sql, UniqueIntegrityConstraintViolationError, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import { upsertCallInTransaction, type CallFields, type SpeakerInput } from './calls.js';
import { decodeCursor, page } from './cursor.js';
import type { Database } from './pool.js';
import { noRows, row, timestamp, utc, uuid } from './rows.js';
import { TRUE } from './scope.js';
import { replaceTranscript, type GongMonologue } from './transcripts.js';

const NO_ROWS = noRows;

const runStatus = z.enum(['queued', 'running', 'completed', 'failed']);
const runTrigger = z.enum(['api', 'schedule', 'cli']);
export type RunStatus = z.infer<typeof runStatus>;
export type RunTrigger = z.infer<typeof runTrigger>;

export const COUNT_NAMES = [
  'pages', 'calls_seen', 'created', 'updated', 'unchanged', 'private_skipped', 'private_removed',
  'transcripts_ingested', 'requests', 'rate_limited', 'retries',
] as const;
type CountName = (typeof COUNT_NAMES)[number];
export type RunCounts = Record<CountName, number>;
const runCounts = row(Object.fromEntries(COUNT_NAMES.map((name) => [name, z.number().int()])) as Record<CountName, z.ZodNumber>);

export function zeroCounts(): RunCounts {
  return Object.fromEntries(COUNT_NAMES.map((name) => [name, 0])) as RunCounts;
}

/** A run as the API shows it (GongSyncRun in openapi.yaml), plus its checkpoint for the runner. */
const syncRun = row({
  id: uuid,
  status: runStatus,
  trigger: runTrigger,
  window: row({ from: timestamp, to: timestamp }),
  counts: runCounts,
  error: z.string().nullable(),
  resume_after: timestamp.nullable(),
  created_at: timestamp,
  started_at: timestamp.nullable(),
  finished_at: timestamp.nullable(),
  updated_at: timestamp,
});
export type SyncRun = z.infer<typeof syncRun>;
const claimedRun = syncRun.extend({ cursor: z.string().nullable(), lease_owner: z.string() });
export type ClaimedRun = z.infer<typeof claimedRun>;
const runRow = row({ run: syncRun });
const idRow = row({ id: uuid });

const runJson = sql.fragment`json_build_object(
  'id', r.id, 'status', r.status, 'trigger', r.trigger,
  'window', json_build_object('from', ${utc(sql.fragment`r.window_from`)}, 'to', ${utc(sql.fragment`r.window_to`)}),
  'counts', json_build_object(
    'pages', r.pages, 'calls_seen', r.calls_seen, 'created', r.created, 'updated', r.updated,
    'unchanged', r.unchanged, 'private_skipped', r.private_skipped, 'private_removed', r.private_removed,
    'transcripts_ingested', r.transcripts_ingested, 'requests', r.requests, 'rate_limited', r.rate_limited,
    'retries', r.retries),
  'error', r.error, 'resume_after', ${utc(sql.fragment`r.resume_after`)}, 'created_at', ${utc(sql.fragment`r.created_at`)},
  'started_at', ${utc(sql.fragment`r.started_at`)}, 'finished_at', ${utc(sql.fragment`r.finished_at`)}, 'updated_at', ${utc(sql.fragment`r.updated_at`)})`;

export function createRun(db: Database, input: { trigger: RunTrigger; from: string; to: string }): Promise<SyncRun> {
  return db.transaction((transaction) =>
    transaction.oneFirst(sql.type(runRow)`
      WITH r AS (
        INSERT INTO gong_sync_runs (trigger, window_from, window_to)
        VALUES (${input.trigger}, ${input.from}::timestamptz, ${input.to}::timestamptz)
        RETURNING *)
      SELECT ${runJson} AS run FROM r`),
  );
}

export function getRun(db: Database, runId: string): Promise<SyncRun | null> {
  return db.connect((connection) =>
    connection.maybeOneFirst(sql.type(runRow)`
      SELECT ${runJson} AS run FROM gong_sync_runs r WHERE r.id = ${runId}`),
  );
}

/** Runs, newest first, keyset-paginated on (created_at, id). */
export async function listRuns(db: Database, options: { limit: number; cursor?: string }) {
  const after = options.cursor ? decodeCursor(options.cursor, ['timestamp', 'uuid']) : null;
  const rows = await db.connect((connection) =>
    connection.any(sql.type(row({ run: syncRun, created_at: timestamp, id: uuid }))`
      SELECT ${runJson} AS run, ${utc(sql.fragment`r.created_at`)} AS created_at, r.id
      FROM gong_sync_runs r
      WHERE ${after ? sql.fragment`(r.created_at, r.id) < (${after[0]}::timestamptz, ${after[1]}::uuid)` : TRUE}
      ORDER BY r.created_at DESC, r.id DESC
      LIMIT ${options.limit + 1}`),
  );
  const result = page(rows, options.limit, (last) => [last.created_at, last.id]);
  return { data: result.data.map((row) => row.run), next_cursor: result.next_cursor };
}

/** The newest unfinished run of exactly this window, if any (the CLI resumes it instead of starting over). */
export function findUnfinishedRun(db: Database, window: { from: string; to: string }): Promise<string | null> {
  return db.connect((connection) =>
    connection.maybeOneFirst(sql.type(idRow)`
      SELECT id FROM gong_sync_runs
      WHERE status IN ('queued', 'running')
        AND window_from = ${window.from}::timestamptz AND window_to = ${window.to}::timestamptz
      ORDER BY created_at DESC, id DESC
      LIMIT 1`),
  );
}

export type ClaimOptions = {
  owner: string;
  leaseSeconds: number;
  /** Only this run; otherwise the oldest one due. */
  runId?: string;
  /** Only take over runs whose process stopped renewing their lease. */
  takeoverOnly?: boolean;
};

/**
 * Makes one run `running` under `owner`'s lease, or answers null. A run can be claimed when it is
 * queued (and due) while no run is running, or when it is running under a lease that expired (its
 * process died): then it continues from its checkpoint. The unique index on running runs is the
 * guarantee; two processes racing for two queued runs make one of them fail it, which is a null.
 */
export async function claimRun(db: Database, options: ClaimOptions): Promise<ClaimedRun | null> {
  try {
    return await db.transaction((transaction) =>
      transaction.maybeOneFirst(sql.type(row({ run: claimedRun }))`
        WITH r AS (
          UPDATE gong_sync_runs r
          SET status = 'running', lease_owner = ${options.owner},
              lease_expires_at = now() + make_interval(secs => ${options.leaseSeconds}),
              started_at = coalesce(r.started_at, now()), resume_after = NULL, error = NULL
          WHERE r.id = (
            SELECT c.id FROM gong_sync_runs c
            WHERE c.status IN ('queued', 'running')
              AND ${options.runId ? sql.fragment`c.id = ${options.runId}` : TRUE}
              AND ((c.status = 'running' AND c.lease_expires_at < now())
                OR (${!options.takeoverOnly} AND c.status = 'queued' AND (c.resume_after IS NULL OR c.resume_after <= now())
                    AND NOT EXISTS (SELECT 1 FROM gong_sync_runs a WHERE a.status = 'running')))
            ORDER BY c.status = 'running' DESC, c.created_at, c.id
            LIMIT 1
            FOR UPDATE SKIP LOCKED)
          RETURNING r.*)
        SELECT (${runJson})::jsonb || jsonb_build_object('cursor', r.cursor, 'lease_owner', r.lease_owner) AS run FROM r`),
    );
  } catch (error) {
    if (error instanceof UniqueIntegrityConstraintViolationError) return null;
    throw error;
  }
}

/** Extends the lease; false when `owner` no longer holds the run (it was taken over). */
export async function renewLease(db: Database, runId: string, owner: string, leaseSeconds: number): Promise<boolean> {
  const renewed = await db.transaction((transaction) =>
    transaction.maybeOneFirst(sql.type(idRow)`
      UPDATE gong_sync_runs SET lease_expires_at = now() + make_interval(secs => ${leaseSeconds})
      WHERE id = ${runId} AND status = 'running' AND lease_owner = ${owner}
      RETURNING id`),
  );
  return renewed !== null;
}

function addCounts(delta: RunCounts) {
  return sql.join(
    COUNT_NAMES.map((name) => sql.fragment`${sql.identifier([name])} = ${sql.identifier(['r', name])} + ${delta[name]}`),
    sql.fragment`, `,
  );
}

export type RunEnd =
  | { status: 'completed' }
  | { status: 'failed'; error: string }
  /** Stopped for now (daily budget, long Retry-After, shutdown): queued again, due at `resumeAfter`. */
  | { status: 'queued'; reason: string | null; resumeAfter: string | null };

/**
 * Records a finished page: its counts, and `cursor`, the Gong cursor of the next page. With `end`,
 * the run also ends (or goes back to the queue) in the same statement. False when `owner` lost the
 * lease: another process has the run now and this one must stop writing.
 */
export async function checkpoint(
  db: Database,
  runId: string,
  owner: string,
  update: { cursor: string | null; counts: RunCounts; end?: RunEnd },
): Promise<boolean> {
  const end = update.end;
  const status = end?.status ?? 'running';
  const error = end?.status === 'failed' ? end.error.slice(0, 2000) : end?.status === 'queued' ? end.reason : null;
  const done = status === 'completed' || status === 'failed';
  const stillHeld = status === 'running';
  const written = await db.transaction((transaction) =>
    transaction.maybeOneFirst(sql.type(idRow)`
      UPDATE gong_sync_runs r
      SET ${addCounts(update.counts)}, cursor = ${update.cursor}, status = ${status}, error = ${error},
          resume_after = ${end?.status === 'queued' ? end.resumeAfter : null}::timestamptz,
          finished_at = ${done ? sql.fragment`now()` : sql.fragment`NULL`},
          lease_owner = ${stillHeld ? sql.fragment`r.lease_owner` : sql.fragment`NULL`},
          lease_expires_at = ${stillHeld ? sql.fragment`r.lease_expires_at` : sql.fragment`NULL`}
      WHERE r.id = ${runId} AND r.status = 'running' AND r.lease_owner = ${owner}
      RETURNING r.id`),
  );
  return written !== null;
}

/**
 * Enqueues the scheduled run when it is due: its window starts at the end of the newest completed
 * window minus the overlap (or `intervalMinutes` plus the overlap ago, before any run completed)
 * and ends now. Null when a scheduled run is already queued or running, or one was created less
 * than `intervalMinutes` ago. Any number of replicas may call this: the partial unique index lets
 * one scheduled run be pending at a time.
 */
export async function enqueueScheduledRun(db: Database, intervalMinutes: number, overlapMinutes: number): Promise<SyncRun | null> {
  try {
    return await db.transaction((transaction) =>
      transaction.maybeOneFirst(sql.type(runRow)`
        WITH due AS (
          SELECT least(
                   coalesce((SELECT max(window_to) FROM gong_sync_runs WHERE status = 'completed'),
                            now() - make_interval(mins => ${intervalMinutes})),
                   now()) - make_interval(mins => ${overlapMinutes}) AS window_from
          WHERE NOT EXISTS (
            SELECT 1 FROM gong_sync_runs
            WHERE trigger = 'schedule'
              AND (status IN ('queued', 'running') OR created_at > now() - make_interval(mins => ${intervalMinutes})))
        ), r AS (
          INSERT INTO gong_sync_runs (trigger, window_from, window_to)
          SELECT 'schedule', due.window_from, now() FROM due WHERE due.window_from < now()
          ON CONFLICT DO NOTHING
          RETURNING *)
        SELECT ${runJson} AS run FROM r`),
    );
  } catch (error) {
    if (error instanceof UniqueIntegrityConstraintViolationError) return null;
    throw error;
  }
}

/**
 * Counts one Gong request against today's budget (UTC days). False when `limit` requests were
 * already sent today, by any process.
 */
export async function reserveGongRequest(db: Database, limit: number): Promise<boolean> {
  const reserved = await db.transaction((transaction) =>
    transaction.maybeOneFirst(sql.type(row({ requests: z.number().int() }))`
      INSERT INTO gong_api_usage AS u (day, requests)
      SELECT (now() AT TIME ZONE 'UTC')::date, 1 WHERE ${limit} >= 1
      ON CONFLICT (day) DO UPDATE SET requests = u.requests + 1 WHERE u.requests < ${limit}
      RETURNING u.requests`),
  );
  return reserved !== null;
}

/** When the budget starts again: the next UTC midnight. */
export function nextBudgetDay(now = new Date()): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
}

export type CallSyncState = { call_id: string; content_sha256: string; transcript_sha256: string | null };

/** What the last sync stored of each of these Gong calls, by Gong call id. */
export async function syncStates(db: Database, gongCallIds: readonly string[]): Promise<Map<string, CallSyncState>> {
  if (gongCallIds.length === 0) return new Map();
  const rows = await db.connect((connection) =>
    connection.any(sql.type(row({ gong_call_id: z.string(), call_id: uuid, content_sha256: z.string(), transcript_sha256: z.string().nullable() }))`
      SELECT c.gong_call_id, c.id AS call_id, s.content_sha256, s.transcript_sha256
      FROM calls c JOIN gong_call_sync_state s ON s.call_id = c.id
      WHERE c.gong_call_id = ANY(${sql.array(gongCallIds, 'text')})`),
  );
  return new Map(rows.map(({ gong_call_id, ...state }) => [gong_call_id, state]));
}

/** Deletes the call Gong now marks private (speakers, transcript, analyses cascade); false when absent. */
export async function removeCall(db: Database, gongCallId: string): Promise<boolean> {
  const deleted = await db.transaction((transaction) =>
    transaction.maybeOneFirst(sql.type(idRow)`
      DELETE FROM calls WHERE gong_call_id = ${gongCallId} RETURNING id`),
  );
  return deleted !== null;
}

export type TrackerInput = {
  id: string;
  name: string;
  type: 'KEYWORD' | 'SMART' | null;
  count: number;
  occurrences: { start_time_ms: number; gong_speaker_id: string | null }[];
};

export type GongCallInput = {
  gongCallId: string;
  call: CallFields & { title: string; scheduled_at: string; speakers: SpeakerInput[] };
  /** Party job titles, matched to speakers by Gong speaker id, else email. */
  titles: { gong_speaker_id: string | null; email: string | null; title: string }[];
  trackers: TrackerInput[];
  stats: {
    stats: { name: string; value: number | null }[];
    questions_company: number | null;
    questions_non_company: number | null;
    /** Talk time per speaker, keyed as the speaker's Gong speaker id, else email. */
    speakers: { gong_speaker_id: string | null; email: string | null; talk_time_seconds: number }[];
  } | null;
  contentSha256: string;
};

/**
 * Stores one Gong call in one transaction: the call and its parties (the upsert behind
 * PUT /calls/by-gong-id/{gong_call_id}), party titles, trackers with their occurrences, Gong's
 * interaction stats, and the digest of what was stored. The caller skips calls whose digest is
 * unchanged, so nothing here runs for them.
 */
export function storeGongCall(db: Database, input: GongCallInput): Promise<{ callId: string; created: boolean }> {
  return db.transaction(async (transaction) => {
    const { call, created } = await upsertCallInTransaction(transaction, input.gongCallId, input.call);
    await storeTitles(transaction, call.id, input.titles);
    await storeTrackers(transaction, call.id, input.trackers);
    await storeStats(transaction, call.id, input.stats);
    await transaction.query(sql.type(NO_ROWS)`
      INSERT INTO gong_call_sync_state (call_id, content_sha256) VALUES (${call.id}, ${input.contentSha256})
      ON CONFLICT (call_id) DO UPDATE SET content_sha256 = EXCLUDED.content_sha256, synced_at = now()`);
    return { callId: call.id, created };
  });
}

/** The speaker of `callId` a party is: by Gong speaker id, else by email. */
const matchSpeaker = (callId: string) => sql.fragment`
  sp.call_id = ${callId}
  AND ((given.gong_speaker_id IS NOT NULL AND sp.gong_speaker_id = given.gong_speaker_id)
    OR (given.gong_speaker_id IS NULL AND given.email IS NOT NULL AND lower(sp.email) = lower(given.email)))`;

async function storeTitles(transaction: DatabaseTransactionConnection, callId: string, titles: GongCallInput['titles']) {
  if (titles.length === 0) return;
  await transaction.query(sql.type(NO_ROWS)`
    UPDATE speakers sp SET title = given.title
    FROM ${sql.unnest(titles.map((t) => [t.gong_speaker_id, t.email, t.title]), ['text', 'text', 'text'])}
         AS given(gong_speaker_id, email, title)
    WHERE ${matchSpeaker(callId)} AND sp.title IS DISTINCT FROM given.title`);
}

async function storeTrackers(transaction: DatabaseTransactionConnection, callId: string, trackers: TrackerInput[]) {
  await transaction.query(sql.type(NO_ROWS)`DELETE FROM call_trackers WHERE call_id = ${callId}`);
  if (trackers.length === 0) return;
  await transaction.query(sql.type(NO_ROWS)`
    INSERT INTO gong_trackers AS t (id, name, type)
    SELECT DISTINCT ON (id) id, name, type
    FROM ${sql.unnest(trackers.map((t) => [t.id, t.name, t.type]), ['text', 'text', 'text'])} AS given(id, name, type)
    ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, type = EXCLUDED.type, updated_at = now()
      WHERE (t.name, t.type) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.type)`);
  await transaction.query(sql.type(NO_ROWS)`
    INSERT INTO call_trackers (call_id, tracker_id, count)
    SELECT DISTINCT ON (tracker_id) ${callId}, tracker_id, count
    FROM ${sql.unnest(trackers.map((t) => [t.id, t.count]), ['text', 'int4'])} AS given(tracker_id, count)`);
  const occurrences = trackers.flatMap((t) => t.occurrences.map((o, ordinal) => [t.id, ordinal, o.start_time_ms, o.gong_speaker_id]));
  if (occurrences.length === 0) return;
  await transaction.query(sql.type(NO_ROWS)`
    INSERT INTO call_tracker_occurrences (call_id, tracker_id, ordinal, start_time_ms, gong_speaker_id, speaker_id)
    SELECT ${callId}, given.tracker_id, given.ordinal, given.start_time_ms, given.gong_speaker_id,
           (SELECT sp.id FROM speakers sp WHERE sp.call_id = ${callId} AND sp.gong_speaker_id = given.gong_speaker_id)
    FROM ${sql.unnest(occurrences, ['text', 'int4', 'int8', 'text'])} AS given(tracker_id, ordinal, start_time_ms, gong_speaker_id)
    ON CONFLICT DO NOTHING`);
}

async function storeStats(transaction: DatabaseTransactionConnection, callId: string, stats: GongCallInput['stats']) {
  if (stats === null) {
    await transaction.query(sql.type(NO_ROWS)`DELETE FROM call_gong_stats WHERE call_id = ${callId}`);
    return;
  }
  const speakers = stats.speakers.map((s) => [s.gong_speaker_id, s.email, s.talk_time_seconds]);
  await transaction.query(sql.type(NO_ROWS)`
    INSERT INTO call_gong_stats (call_id, stats, questions_company, questions_non_company, speakers)
    SELECT ${callId}, ${sql.jsonb(stats.stats)}, ${stats.questions_company}, ${stats.questions_non_company},
           coalesce((
             SELECT jsonb_agg(jsonb_build_object('speaker_id', sp.id, 'talk_time_seconds', given.talk_time_seconds) ORDER BY sp.added_order)
             FROM ${sql.unnest(speakers, ['text', 'text', 'float8'])} AS given(gong_speaker_id, email, talk_time_seconds)
             JOIN speakers sp ON ${matchSpeaker(callId)}), '[]'::jsonb)
    ON CONFLICT (call_id) DO UPDATE SET
      stats = EXCLUDED.stats, questions_company = EXCLUDED.questions_company,
      questions_non_company = EXCLUDED.questions_non_company, speakers = EXCLUDED.speakers`);
}

/** Replaces the call's transcript (the ingest behind PUT /calls/{id}/transcript) and records its digest. */
export async function storeGongTranscript(db: Database, callId: string, transcript: readonly GongMonologue[], sha256: string): Promise<boolean> {
  const ingest = await replaceTranscript(db, callId, transcript);
  if (!ingest) return false;
  await db.transaction((transaction) =>
    transaction.query(sql.type(NO_ROWS)`
      UPDATE gong_call_sync_state SET transcript_sha256 = ${sha256}, synced_at = now() WHERE call_id = ${callId}`),
  );
  return true;
}
