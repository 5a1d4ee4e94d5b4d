import { sql, type CommonQueryMethods } from 'slonik';
import type * as s from 'zapatos/schema';
import { z } from 'zod';
import { decodeCursor, page } from './cursor.js';
import type { Database } from './pool.js';
import { jsonbValue, jsonObject, noRows, row, tableRow, timestamp, utc, uuid } from './rows.js';
import { visibleAnalysis, visibleCall, TRUE, type Scope } from './scope.js';

type TimedExample = { start_ms: number; end_ms: number; summary: string };

/** A new analysis as callers describe it (the contract has already checked the values). */
export type AnalysisInput = {
  rep_email: string;
  scores: Record<string, number>;
  overall_score?: number;
  strengths?: readonly string[];
  areas_for_improvement?: readonly string[];
  action_items?: readonly string[];
  specific_examples?: { good?: TimedExample[]; needs_work?: TimedExample[] };
  coaching_notes?: string | null;
  analyst: string;
  rubric_version: string;
  raw_output?: Record<string, unknown> | null;
};

const timedExample = row({ start_ms: z.number(), end_ms: z.number(), summary: z.string() });
const analysisRecord = tableRow<s.analyses.JSONSelectable>()({
  id: uuid,
  call_id: uuid,
  speaker_id: uuid.nullable(),
  rep_id: uuid.nullable(),
  rep_email: z.string(),
  scores: z.record(z.number().int()),
  overall_score: z.number().nullable(),
  strengths: z.array(z.string()),
  areas_for_improvement: z.array(z.string()),
  action_items: z.array(z.string()),
  specific_examples: row({ good: z.array(timedExample), needs_work: z.array(timedExample) }),
  coaching_notes: z.string().nullable(),
  analyst: z.string(),
  rubric_version: z.string(),
  raw_output: jsonObject.nullable(),
  created_at: timestamp,
});
export type AnalysisRecord = z.infer<typeof analysisRecord>;
const idRow = row({ id: uuid });

// Built by PostgreSQL: numeric → JSON number, timestamptz → RFC 3339 in UTC (rows.ts, utc).
const analysisJson = sql.fragment`json_build_object(
  'id', a.id, 'call_id', a.call_id, 'speaker_id', a.speaker_id, 'rep_id', a.rep_id, 'rep_email', a.rep_email,
  'scores', a.scores, 'overall_score', a.overall_score, 'strengths', a.strengths,
  'areas_for_improvement', a.areas_for_improvement, 'action_items', a.action_items,
  'specific_examples', a.specific_examples, 'coaching_notes', a.coaching_notes, 'analyst', a.analyst,
  'rubric_version', a.rubric_version, 'raw_output', a.raw_output, 'created_at', ${utc(sql.fragment`a.created_at`)})`;

function selectAnalysis(connection: CommonQueryMethods, analysisId: string, scope: Scope) {
  return connection.maybeOneFirst(sql.type(row({ analysis: analysisRecord }))`
    SELECT ${analysisJson} AS analysis
    FROM analyses a JOIN calls c ON c.id = a.call_id
    WHERE a.id = ${analysisId} AND ${visibleCall(scope, 'c')} AND ${visibleAnalysis(scope, 'a')}`);
}

export type CreateAnalysisResult =
  | { kind: 'created'; analysis: AnalysisRecord }
  | { kind: 'no_call' }
  | { kind: 'not_a_speaker' }
  | { kind: 'not_a_rep'; role: string; company_side: boolean };

/**
 * Stores an analysis of one rep (a company-side speaker of the call, matched by email,
 * case-insensitively) and marks the call processed, in one transaction. A speaker who is not on
 * the company side, or whose role on the call is prospect or customer, is no rep: nothing is
 * stored for them. The overall score is stored as sent (numeric, unrounded: migration 011); it
 * defaults to the mean of the scores, rounded to a whole point. The rep's email is stored
 * lowercased, as reps are.
 */
export function createAnalysis(db: Database, callId: string, input: AnalysisInput): Promise<CreateAnalysisResult> {
  return db.transaction(async (transaction) => {
    // Locks the call, so it cannot be deleted between the check and the insert.
    const target = await transaction.maybeOne(
      sql.type(row({ speaker_id: uuid.nullable(), company_side: z.boolean().nullable(), role: z.string().nullable(), rep_id: uuid.nullable() }))`
      SELECT sp.id AS speaker_id, sp.company_side, sp.role,
        (SELECT r.id FROM reps r WHERE r.email = lower(${input.rep_email})) AS rep_id
      FROM calls c
      LEFT JOIN LATERAL (
        SELECT s.id, s.company_side, s.role FROM speakers s
        WHERE s.call_id = c.id AND lower(s.email) = lower(${input.rep_email})
        ORDER BY s.company_side DESC, s.added_order LIMIT 1) sp ON true
      WHERE c.id = ${callId}
      FOR NO KEY UPDATE OF c`);
    if (!target) return { kind: 'no_call' };
    if (!target.speaker_id) return { kind: 'not_a_speaker' };
    // Our own staff only: a company-side speaker, and not one labelled a prospect or customer.
    const role = target.role ?? 'other';
    if (!target.company_side || role === 'prospect' || role === 'customer') return { kind: 'not_a_rep', role, company_side: Boolean(target.company_side) };

    const examples = { good: input.specific_examples?.good ?? [], needs_work: input.specific_examples?.needs_work ?? [] };
    const scores = sql.jsonb(input.scores);
    const analysisId = await transaction.oneFirst(sql.type(idRow)`
      INSERT INTO analyses (
        call_id, speaker_id, rep_id, rep_email, scores, overall_score, strengths, areas_for_improvement,
        action_items, specific_examples, coaching_notes, analyst, rubric_version, raw_output)
      VALUES (
        ${callId}, ${target.speaker_id}, ${target.rep_id}, lower(${input.rep_email}), ${scores},
        COALESCE(${input.overall_score ?? null}::numeric,
                 (SELECT round(avg(value::numeric)) FROM jsonb_each_text(${scores}))),
        ${sql.array([...(input.strengths ?? [])], 'text')},
        ${sql.array([...(input.areas_for_improvement ?? [])], 'text')},
        ${sql.array([...(input.action_items ?? [])], 'text')},
        ${sql.jsonb(examples)}, ${input.coaching_notes ?? null}, ${input.analyst}, ${input.rubric_version},
        ${input.raw_output == null ? null : jsonbValue(input.raw_output)})
      RETURNING id`);
    await transaction.query(sql.type(noRows)`UPDATE calls SET processed_at = now() WHERE id = ${callId}`);
    const analysis = await selectAnalysis(transaction, analysisId, { repEmail: null });
    if (!analysis) throw new Error(`analysis ${analysisId} vanished inside its own transaction`);
    return { kind: 'created', analysis };
  });
}

/** One analysis, when the scope may see its call and the analysed rep; otherwise null. */
export function getAnalysis(db: Database, analysisId: string, scope: Scope): Promise<AnalysisRecord | null> {
  return db.connect((connection) => selectAnalysis(connection, analysisId, scope));
}

/**
 * A page of a call's analyses the scope may see, newest first (keyset on created_at, id), or null
 * when there is no such call or the scope may not see it.
 */
export function listCallAnalyses(
  db: Database,
  callId: string,
  scope: Scope,
  options: { limit: number; cursor?: string },
): Promise<{ data: AnalysisRecord[]; next_cursor: string | null } | null> {
  const after = options.cursor ? decodeCursor(options.cursor, ['timestamp', 'uuid']) : null;
  const keyset = after
    ? sql.fragment`(a.created_at, a.id) < (${after[0]}::timestamptz, ${after[1]}::uuid)`
    : TRUE;
  return db.connect(async (connection) => {
    const rows = await connection.maybeOneFirst(sql.type(row({ rows: z.array(analysisRecord) }))`
      SELECT COALESCE((
        SELECT json_agg(x.analysis ORDER BY x.created_at DESC, x.id DESC)
        FROM (
          SELECT ${analysisJson} AS analysis, a.created_at, a.id
          FROM analyses a
          WHERE a.call_id = c.id AND ${keyset} AND ${visibleAnalysis(scope, 'a')}
          ORDER BY a.created_at DESC, a.id DESC
          LIMIT ${options.limit + 1}) x), '[]'::json) AS rows
      FROM calls c WHERE c.id = ${callId} AND ${visibleCall(scope, 'c')}`);
    if (rows === null) return null;
    return page(rows, options.limit, (last) => [last.created_at, last.id]);
  });
}
