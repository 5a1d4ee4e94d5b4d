/**
 * What Gong gives beyond the call, as the API reads it: trackers per call (GET
 * /calls/{id}/trackers, the `tracker` filter of GET /calls) and Gong's own interaction stats (the
 * `gong` object of GET /calls/{id}/metrics). The Gong sync (gong-sync.ts) writes them.
 */
import { sql } from 'slonik';
import { z } from 'zod';
import type { Database } from './pool.js';
import { row, uuid } from './rows.js';
import { visibleCall, type Scope } from './scope.js';

const callTrackers = row({
  call_id: uuid,
  trackers: z.array(
    row({
      tracker_id: z.string(),
      name: z.string(),
      type: z.enum(['KEYWORD', 'SMART']).nullable(),
      count: z.number().int(),
      occurrences: z.array(
        row({ start_time_ms: z.number().int(), speaker_id: uuid.nullable(), speaker_name: z.string().nullable(), gong_speaker_id: z.string().nullable() }),
      ),
    }),
  ),
});
export type CallTrackers = z.infer<typeof callTrackers>;

/** The call's Gong trackers with their occurrences; null when the scope cannot see the call. */
export function getCallTrackers(db: Database, scope: Scope, callId: string): Promise<CallTrackers | null> {
  return db.connect((connection) =>
    connection.maybeOneFirst(sql.type(row({ trackers: callTrackers }))`
      SELECT json_build_object(
        'call_id', c.id,
        'trackers', coalesce((
          SELECT json_agg(json_build_object(
            'tracker_id', t.id, 'name', t.name, 'type', t.type, 'count', ct.count,
            'occurrences', coalesce((
              SELECT json_agg(json_build_object(
                'start_time_ms', o.start_time_ms, 'speaker_id', o.speaker_id, 'speaker_name', sp.name,
                'gong_speaker_id', o.gong_speaker_id) ORDER BY o.start_time_ms, o.ordinal)
              FROM call_tracker_occurrences o LEFT JOIN speakers sp ON sp.id = o.speaker_id
              WHERE o.call_id = ct.call_id AND o.tracker_id = ct.tracker_id), '[]'::json))
            ORDER BY ct.count DESC, t.name, t.id)
          FROM call_trackers ct JOIN gong_trackers t ON t.id = ct.tracker_id
          WHERE ct.call_id = c.id), '[]'::json)) AS trackers
      FROM calls c WHERE c.id = ${callId} AND ${visibleCall(scope, 'c')}`),
  );
}

/** Calls where a tracker (by Gong id, or name in any case) came up: a condition on calls `c`. */
export function mentionsTracker(tracker: string) {
  return sql.fragment`EXISTS (
    SELECT 1 FROM call_trackers ct JOIN gong_trackers t ON t.id = ct.tracker_id
    WHERE ct.call_id = c.id AND ct.count > 0 AND (t.id = ${tracker} OR lower(t.name) = lower(${tracker})))`;
}

const statOrNull = z.number().nullable();
/** The `gong` object of GET /calls/{id}/metrics (gongStatsJson). */
export const gongStats = row({
  talk_ratio: statOrNull,
  longest_monologue_seconds: statOrNull,
  longest_customer_story_seconds: statOrNull,
  interactivity: statOrNull,
  patience_seconds: statOrNull,
  questions_company: z.number().int().nullable(),
  questions_non_company: z.number().int().nullable(),
  stats: z.array(row({ name: z.string(), value: statOrNull })),
  speakers: z.array(row({ speaker_id: uuid, name: z.string(), talk_time_seconds: z.number() })),
});

/** Gong's own interaction stats of call `c`, as the metrics answer's `gong` object (null without them). */
export const gongStatsJson = sql.fragment`(
  SELECT json_build_object(
    'talk_ratio', (SELECT (e ->> 'value')::float8 FROM jsonb_array_elements(g.stats) e WHERE e ->> 'name' = 'Talk Ratio' LIMIT 1),
    'longest_monologue_seconds', (SELECT (e ->> 'value')::float8 FROM jsonb_array_elements(g.stats) e WHERE e ->> 'name' = 'Longest Monologue' LIMIT 1),
    'longest_customer_story_seconds', (SELECT (e ->> 'value')::float8 FROM jsonb_array_elements(g.stats) e WHERE e ->> 'name' = 'Longest Customer Story' LIMIT 1),
    'interactivity', (SELECT (e ->> 'value')::float8 FROM jsonb_array_elements(g.stats) e WHERE e ->> 'name' = 'Interactivity' LIMIT 1),
    'patience_seconds', (SELECT (e ->> 'value')::float8 FROM jsonb_array_elements(g.stats) e WHERE e ->> 'name' = 'Patience' LIMIT 1),
    'questions_company', g.questions_company,
    'questions_non_company', g.questions_non_company,
    'stats', g.stats,
    'speakers', coalesce((
      SELECT json_agg(json_build_object('speaker_id', sp.id, 'name', sp.name, 'talk_time_seconds', (x ->> 'talk_time_seconds')::float8)
                      ORDER BY sp.added_order)
      FROM jsonb_array_elements(g.speakers) x JOIN speakers sp ON sp.id = (x ->> 'speaker_id')::uuid), '[]'::json))
  FROM call_gong_stats g WHERE g.call_id = c.id)`;
