import { sql, type CommonQueryMethods, type FragmentSqlToken } from 'slonik';
import type * as s from 'zapatos/schema';
import { z } from 'zod';
import { decodeCursor, page } from './cursor.js';
import { containsPattern } from './like.js';
import type { Database } from './pool.js';
import type { Precondition } from './precondition.js';
import { row, tableRow, timestamp, utc, uuid } from './rows.js';
import { UNRESTRICTED, TRUE, type Scope } from './scope.js';

const repRecord = tableRow<s.reps.JSONSelectable>()({
  id: uuid,
  email: z.string(),
  name: z.string(),
  // The CHECK constraint of migration 003, as the contract's RepRole.
  role: z.enum(['ae', 'se', 'csm', 'support', 'manager']),
  manager_id: uuid.nullable(),
  created_at: timestamp,
  updated_at: timestamp,
});
export type RepRecord = z.infer<typeof repRecord>;
const repRow = row({ rep: repRecord });
const idRow = row({ id: uuid });

const repJson = sql.fragment`json_build_object(
  'id', r.id, 'email', r.email, 'name', r.name, 'role', r.role, 'manager_id', r.manager_id,
  'created_at', ${utc(sql.fragment`r.created_at`)}, 'updated_at', ${utc(sql.fragment`r.updated_at`)})`;

/** A condition on a row of `reps` aliased `r`: a `rep` sees only their own record. */
function visibleRep(scope: Scope): FragmentSqlToken {
  return scope.repEmail === null ? TRUE : sql.fragment`r.email = lower(${scope.repEmail})`;
}

function selectRep(connection: CommonQueryMethods, repId: string, scope: Scope): Promise<RepRecord | null> {
  return connection.maybeOneFirst(sql.type(repRow)`
    SELECT ${repJson} AS rep FROM reps r WHERE r.id = ${repId} AND ${visibleRep(scope)}`);
}

export type RepFilters = { role?: string; q?: string; limit: number; cursor?: string };

/** A page of reps by email (keyset on the unique email), filtered by role and by part of name or email. */
export async function listReps(
  db: Database,
  scope: Scope,
  filters: RepFilters,
): Promise<{ data: RepRecord[]; next_cursor: string | null }> {
  const after = filters.cursor ? decodeCursor(filters.cursor, ['text'])[0] : null;
  const conditions = [visibleRep(scope)];
  if (filters.role) conditions.push(sql.fragment`r.role = ${filters.role}`);
  if (filters.q) {
    const pattern = containsPattern(filters.q);
    conditions.push(sql.fragment`(r.name ILIKE ${pattern} OR r.email ILIKE ${pattern})`);
  }
  if (after !== null) conditions.push(sql.fragment`r.email > ${after}`);
  const rows = await db.connect((connection) =>
    connection.anyFirst(sql.type(repRow)`
      SELECT ${repJson} AS rep FROM reps r
      WHERE ${sql.join(conditions, sql.fragment` AND `)}
      ORDER BY r.email
      LIMIT ${filters.limit + 1}`),
  );
  return page(rows, filters.limit, (last) => [last.email]);
}

/** One rep, when the scope may see them; otherwise null. */
export function getRep(db: Database, repId: string, scope: Scope): Promise<RepRecord | null> {
  return db.connect((connection) => selectRep(connection, repId, scope));
}

export type RepUpdate = { name?: string; role?: string; manager_id?: string | null };
export type UpdateRepResult = { kind: 'updated'; rep: RepRecord } | { kind: 'no_rep' } | { kind: 'no_manager' };

/**
 * Changes the fields present in `update` (manager_id: null unlinks the manager), when
 * `precondition` holds for the rep as GET sends it (checked with the rep's row locked).
 */
export function updateRep(db: Database, repId: string, update: RepUpdate, precondition?: Precondition): Promise<UpdateRepResult> {
  const has = (field: keyof RepUpdate) => Object.prototype.hasOwnProperty.call(update, field);
  return db.transaction(async (transaction) => {
    if (precondition) {
      const locked = await transaction.maybeOneFirst(sql.type(idRow)`
        SELECT id FROM reps WHERE id = ${repId} FOR UPDATE`);
      if (locked === null) return { kind: 'no_rep' };
      precondition(await selectRep(transaction, repId, UNRESTRICTED));
    }
    if (update.manager_id != null) {
      const managerExists = await transaction.exists(sql.type(idRow)`SELECT id FROM reps WHERE id = ${update.manager_id}`);
      if (!managerExists) {
        const repExists = await transaction.exists(sql.type(idRow)`SELECT id FROM reps WHERE id = ${repId}`);
        return repExists ? { kind: 'no_manager' } : { kind: 'no_rep' };
      }
    }
    const rep = await transaction.maybeOneFirst(sql.type(repRow)`
      UPDATE reps r SET
        name = CASE WHEN ${has('name')} THEN ${update.name ?? null}::text ELSE r.name END,
        role = CASE WHEN ${has('role')} THEN ${update.role ?? null}::text ELSE r.role END,
        manager_id = CASE WHEN ${has('manager_id')} THEN ${update.manager_id ?? null}::uuid ELSE r.manager_id END
      WHERE r.id = ${repId}
      RETURNING ${repJson} AS rep`);
    return rep ? { kind: 'updated', rep } : { kind: 'no_rep' };
  });
}

export type InsightsPeriod = { period: 'week' | 'month' | 'quarter' } | { from: string; to: string };

const PERIOD_INTERVALS = { week: '7 days', month: '1 month', quarter: '3 months' } as const;

/** Fewest other reps whose scores make a team average: with fewer, it would show a colleague's score. */
export const TEAM_AVERAGE_MIN_REPS = 3;

const averageOrNull = z.number().nullable();
const repInsights = row({
  rep_id: uuid,
  email: z.string(),
  period: row({ from: timestamp, to: timestamp }),
  analyses_count: z.number().int(),
  calls_analysed: z.number().int(),
  overall_average: averageOrNull,
  dimensions: z.array(
    row({
      dimension: z.string(),
      average: z.number(),
      earlier_average: averageOrNull,
      recent_average: averageOrNull,
      trend: z.enum(['improving', 'declining', 'stable', 'insufficient_data']),
    }),
  ),
  weekly: z.array(row({ week_start: z.string(), analyses: z.number().int(), overall_average: averageOrNull })),
  skill_gaps: z.array(
    row({
      dimension: z.string(),
      rep_average: z.number(),
      team_average: z.number().nullable(),
      gap: z.number().nullable(),
      severity: z.enum(['high', 'medium']).nullable(),
    }),
  ),
  recent_wins: z.array(
    row({ analysis_id: uuid, call_id: uuid, call_title: z.string(), overall_score: z.number(), created_at: timestamp }),
  ),
  conversation_metrics: row({
    calls_with_transcript: z.number().int(),
    talk_ratio: averageOrNull,
    longest_monologue_seconds: averageOrNull,
    interactivity: averageOrNull,
    patience_seconds: averageOrNull,
    question_rate_per_hour: averageOrNull,
  }),
});
export type RepInsightsRecord = z.infer<typeof repInsights>;

/**
 * Per call in `period_calls(call_id)` with a transcript: migration 006's call_scaled_metrics, the
 * definitions GET /calls/{id}/metrics answers with (%, s, 0–10, s, per hour), unrounded.
 */
const callMetrics = sql.fragment`
  call_metrics AS (
    SELECT * FROM call_scaled_metrics(ARRAY(SELECT call_id FROM period_calls)) WHERE has_transcript)`;

/**
 * A rep's coaching insights over [from, to), computed by PostgreSQL in one statement, or null
 * when there is no such rep or the scope may not see them. Averages are rounded to 1 decimal;
 * trends and severities are decided on the unrounded values.
 */
export function getRepInsights(
  db: Database,
  repId: string,
  scope: Scope,
  window: InsightsPeriod,
): Promise<RepInsightsRecord | null> {
  const bounds =
    'period' in window
      ? // Months and days counted on the UTC calendar: timestamptz - interval counts them in the session's time zone.
        sql.fragment`SELECT (now() AT TIME ZONE 'UTC' - ${PERIOD_INTERVALS[window.period]}::interval) AT TIME ZONE 'UTC' AS from_at, now() AS to_at`
      : sql.fragment`SELECT ${window.from}::timestamptz AS from_at, ${window.to}::timestamptz AS to_at`;
  return db.connect((connection) =>
    connection.maybeOneFirst(sql.type(row({ insights: repInsights }))`
      WITH
      rep AS (SELECT r.id, r.email, r.role FROM reps r WHERE r.id = ${repId} AND ${visibleRep(scope)}),
      bounds AS (${bounds}),
      mine AS (
        SELECT a.id, a.call_id, a.scores, a.overall_score, a.created_at
        FROM analyses a, rep, bounds
        WHERE lower(a.rep_email) = rep.email AND a.created_at >= bounds.from_at AND a.created_at < bounds.to_at),
      my_scores AS (
        SELECT sc.key AS dimension, sc.value::numeric AS score,
          row_number() OVER (PARTITION BY sc.key ORDER BY m.created_at, m.id) AS k,
          count(*) OVER (PARTITION BY sc.key) AS n
        FROM mine m, jsonb_each_text(m.scores) sc),
      -- Per dimension: its scores in time order; the earlier half is the first floor(n/2), the
      -- recent half the rest (with an odd count the middle analysis counts as recent).
      dims AS (
        SELECT dimension, avg(score) AS average,
          avg(score) FILTER (WHERE k <= n / 2) AS earlier,
          avg(score) FILTER (WHERE k > n / 2) AS recent,
          max(n) AS n
        FROM my_scores GROUP BY dimension),
      -- The team: every other rep with the same role scored on the dimension in the period; the
      -- mean of their own averages (each colleague counts once), only when there are enough of
      -- them that the figure reveals no single colleague's score.
      team AS (
        SELECT dimension, avg(peer_average) AS average
        FROM (
          SELECT peer.id, sc.key AS dimension, avg(sc.value::numeric) AS peer_average
          FROM rep, bounds, reps peer
            JOIN analyses a ON lower(a.rep_email) = peer.email
            CROSS JOIN LATERAL jsonb_each_text(a.scores) sc
          WHERE peer.role = rep.role AND peer.id <> rep.id
            AND a.created_at >= bounds.from_at AND a.created_at < bounds.to_at
          GROUP BY peer.id, sc.key) per_peer
        GROUP BY dimension
        HAVING count(*) >= ${TEAM_AVERAGE_MIN_REPS}),
      -- A gap: more than 5 points below the team; or unknown (null) when there is no team average.
      gaps AS (
        SELECT d.dimension, d.average AS rep_average, t.average AS team_average, t.average - d.average AS gap
        FROM dims d LEFT JOIN team t USING (dimension)
        WHERE t.average IS NULL OR t.average - d.average > 5),
      period_calls AS (SELECT DISTINCT call_id FROM mine),
      ${callMetrics}
      SELECT json_build_object(
        'rep_id', rep.id,
        'email', rep.email,
        'period', json_build_object('from', ${utc(sql.fragment`bounds.from_at`)}, 'to', ${utc(sql.fragment`bounds.to_at`)}),
        'analyses_count', (SELECT count(*) FROM mine),
        'calls_analysed', (SELECT count(*) FROM period_calls),
        'overall_average', (SELECT round(avg(overall_score), 1) FROM mine),
        'dimensions', COALESCE((
          SELECT json_agg(json_build_object(
            'dimension', dimension, 'average', round(average, 1),
            'earlier_average', round(earlier, 1), 'recent_average', round(recent, 1),
            'trend', CASE
              WHEN n < 2 THEN 'insufficient_data'
              WHEN recent - earlier > 5 THEN 'improving'
              WHEN recent - earlier < -5 THEN 'declining'
              ELSE 'stable' END) ORDER BY dimension)
          FROM dims), '[]'::json),
        'weekly', COALESCE((
          SELECT json_agg(json_build_object(
            'week_start', to_char(week, 'YYYY-MM-DD'), 'analyses', analyses, 'overall_average', round(overall, 1))
            ORDER BY week)
          -- Weeks start on Monday 00:00 UTC (a timestamp without time zone, so to_char prints it as is).
          FROM (SELECT date_trunc('week', created_at AT TIME ZONE 'UTC') AS week, count(*) AS analyses, avg(overall_score) AS overall
                FROM mine GROUP BY 1) w), '[]'::json),
        'skill_gaps', COALESCE((
          SELECT json_agg(json_build_object(
            'dimension', dimension, 'rep_average', round(rep_average, 1), 'team_average', round(team_average, 1),
            'gap', round(gap, 1), 'severity', CASE WHEN gap > 15 THEN 'high' WHEN gap > 5 THEN 'medium' END)
            ORDER BY gap DESC NULLS LAST, dimension)
          FROM gaps), '[]'::json),
        'recent_wins', COALESCE((
          SELECT json_agg(json_build_object(
            'analysis_id', w.id, 'call_id', w.call_id, 'call_title', w.title, 'overall_score', w.overall_score,
            'created_at', ${utc(sql.fragment`w.created_at`)}) ORDER BY w.created_at DESC, w.id DESC)
          FROM (SELECT m.id, m.call_id, c.title, m.overall_score, m.created_at
                FROM mine m JOIN calls c ON c.id = m.call_id
                WHERE m.overall_score >= 85
                ORDER BY m.created_at DESC, m.id DESC LIMIT 5) w), '[]'::json),
        'conversation_metrics', (
          SELECT json_build_object(
            'calls_with_transcript', count(*),
            'talk_ratio', round(avg(talk_ratio), 1),
            'longest_monologue_seconds', round(avg(longest_monologue_seconds), 1),
            'interactivity', round(avg(interactivity), 1),
            'patience_seconds', round(avg(patience_seconds), 1),
            'question_rate_per_hour', round(avg(question_rate_per_hour), 1))
          FROM call_metrics)
      ) AS insights
      FROM rep, bounds`),
  );
}
