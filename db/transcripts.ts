import { sql } from 'slonik';
import type { Database } from './pool.js';
import type { Precondition } from './precondition.js';
import { decodeCursor, page } from './cursor.js';
import { gongStatsJson } from './gong-call-data.js';
import { visibleCall, type Scope } from './scope.js';
import { rowsOf } from './typed.js';

/** Gong's v2 transcript of one call: one entry per monologue (the contract has checked it). */
export type GongMonologue = {
  speakerId: string;
  topic?: string | null;
  sentences: readonly { start: number; end: number; text: string }[];
};

export type SpeakerTalkTime = {
  speaker_id: string;
  name: string;
  talk_time_seconds: number | null;
  talk_time_percentage: number | null;
};

export type TranscriptIngest = {
  call_id: string;
  segment_count: number;
  duration_ms: number;
  unmatched_speaker_ids: string[];
  speakers: SpeakerTalkTime[];
};

export type TranscriptSegment = {
  id: string;
  sequence_number: number;
  speaker_id: string | null;
  speaker_name: string | null;
  gong_speaker_id: string | null;
  start_time_ms: number;
  end_time_ms: number | null;
  text: string;
  topics: string[];
  sentiment: string | null;
};

export type Transcript = { call_id: string; segment_count: number; segments: TranscriptSegment[] };

/** The first sentence (monologue index, sentence index) that ends before it starts, if any. */
export function findBackwardsSentence(transcript: readonly GongMonologue[]): [number, number] | null {
  for (const [m, monologue] of transcript.entries()) {
    for (const [s, sentence] of monologue.sentences.entries()) {
      if (sentence.end < sentence.start) return [m, s];
    }
  }
  return null;
}

/**
 * The INSERT of every sentence of `transcript` into the call's segments, in one statement (unnest
 * of column arrays, numbered in order, speakers matched by Gong speaker id). Run by
 * replaceTranscript; exported so the bench EXPLAINs this very statement.
 */
export function insertSegmentsQuery(callId: string, transcript: readonly GongMonologue[]) {
  const rows: [string, number, number, string, string | null][] = [];
  for (const monologue of transcript) {
    const topic = monologue.topic ?? null;
    for (const sentence of monologue.sentences) {
      rows.push([monologue.speakerId, sentence.start, sentence.end, sentence.text, topic]);
    }
  }
  return sql.unsafe`
    INSERT INTO transcripts (
      call_id, call_scheduled_at, sequence_number, speaker_id, gong_speaker_id, start_time_ms, end_time_ms, text, topics, chunk_metadata)
    SELECT ${callId}, (SELECT scheduled_at FROM calls WHERE id = ${callId}), input.ordinality - 1, sp.id, input.gong_speaker_id, input.start_ms, input.end_ms, input.text,
           CASE WHEN input.topic IS NULL THEN '{}'::text[] ELSE ARRAY[input.topic] END,
           jsonb_build_object('start_ms', input.start_ms, 'end_ms', input.end_ms,
                              'duration_ms', input.end_ms - input.start_ms)
    FROM ${sql.unnest(rows, ['text', 'int8', 'int8', 'text', 'text'])}
         WITH ORDINALITY AS input(gong_speaker_id, start_ms, end_ms, text, topic, ordinality)
    LEFT JOIN speakers sp ON sp.call_id = ${callId} AND sp.gong_speaker_id = input.gong_speaker_id`;
}

/**
 * Replaces the call's transcript in one transaction: lock the call, delete its segments, insert
 * every sentence in one statement (unnest of column arrays, numbered in order), then store each
 * speaker's talk time (call_speaker_talk_time, migration 004: speakers without segments get 0 s
 * and 0 %). Any failure rolls all of it back, leaving the previous transcript as it was.
 * `precondition` is checked on the stored transcript (as GET sends it) under the call's lock.
 * Null when there is no such call.
 */
export function replaceTranscript(
  db: Database,
  callId: string,
  transcript: readonly GongMonologue[],
  precondition?: Precondition,
): Promise<TranscriptIngest | null> {
  return db.transaction(async (transaction) => {
    // Locks the call so two replacements of one transcript run one after the other (every
    // writer of a transcript comes through here).
    const found = await transaction.maybeOneFirst(sql.type(rowsOf<{ id: string }>())`
      SELECT id FROM calls WHERE id = ${callId} FOR NO KEY UPDATE`);
    if (found === null) return null;
    if (precondition) {
      // A statement of its own after the lock, so it sees what the lock waited for.
      precondition(await transaction.oneFirst(sql.type(rowsOf<{ transcript: Transcript }>())`
        SELECT ${transcriptJson} AS transcript FROM calls c WHERE c.id = ${callId}`));
    }

    await transaction.query(sql.unsafe`DELETE FROM transcripts WHERE call_id = ${callId}`);

    await transaction.query(insertSegmentsQuery(callId, transcript));

    await transaction.query(sql.unsafe`
      UPDATE speakers sp
      SET talk_time_seconds = round(tt.talk_ms / 1000.0, 2), talk_time_percentage = tt.talk_percentage
      FROM call_speaker_talk_time(ARRAY[${callId}]::uuid[]) tt
      WHERE sp.id = tt.speaker_id`);

    return transaction.oneFirst(sql.type(rowsOf<{ ingest: TranscriptIngest }>())`
      SELECT json_build_object(
        'call_id', c.id,
        'segment_count', (SELECT count(*) FROM transcripts t WHERE t.call_id = c.id),
        'duration_ms', (SELECT coalesce(max(t.end_time_ms) - min(t.start_time_ms), 0) FROM transcripts t WHERE t.call_id = c.id),
        'unmatched_speaker_ids', coalesce((
          SELECT json_agg(u.gong_speaker_id ORDER BY u.first_seen)
          FROM (SELECT t.gong_speaker_id, min(t.sequence_number) AS first_seen
                FROM transcripts t WHERE t.call_id = c.id AND t.speaker_id IS NULL
                GROUP BY t.gong_speaker_id) u), '[]'::json),
        'speakers', coalesce((
          SELECT json_agg(json_build_object(
            'speaker_id', sp.id, 'name', sp.name, 'talk_time_seconds', sp.talk_time_seconds,
            'talk_time_percentage', sp.talk_time_percentage) ORDER BY sp.added_order)
          FROM speakers sp WHERE sp.call_id = c.id), '[]'::json)) AS ingest
      FROM calls c WHERE c.id = ${callId}`);
  });
}

/** The transcript of the call `c` as GET sends it (a precondition checks the same representation). */
const transcriptJson = sql.fragment`json_build_object(
  'call_id', c.id,
  'segment_count', (SELECT count(*) FROM transcripts t WHERE t.call_id = c.id),
  'segments', coalesce((
    SELECT json_agg(json_build_object(
      'id', t.id, 'sequence_number', t.sequence_number, 'speaker_id', t.speaker_id,
      'speaker_name', sp.name, 'gong_speaker_id', t.gong_speaker_id,
      'start_time_ms', t.start_time_ms, 'end_time_ms', t.end_time_ms, 'text', t.text,
      'topics', t.topics, 'sentiment', t.sentiment) ORDER BY t.sequence_number)
    FROM transcripts t LEFT JOIN speakers sp ON sp.id = t.speaker_id
    WHERE t.call_id = c.id), '[]'::json))`;

/** Every segment of the call in order, with speaker names; null when the scope cannot see the call. */
export function getTranscript(db: Database, scope: Scope, callId: string): Promise<Transcript | null> {
  return db.connect((connection) =>
    connection.maybeOneFirst(sql.type(rowsOf<{ transcript: Transcript }>())`
      SELECT ${transcriptJson} AS transcript
      FROM calls c WHERE c.id = ${callId} AND ${visibleCall(scope, 'c')}`),
  );
}

export type SearchHit = {
  segment_id: string;
  call_id: string;
  call_title: string;
  scheduled_at: string;
  sequence_number: number;
  speaker_id: string | null;
  speaker_name: string | null;
  start_time_ms: number;
  text: string;
  snippet: string;
};

export type SearchInput = { q: string; callId?: string; limit: number; cursor?: string };

/**
 * Full-text search (websearch syntax, English stemming), newest call first, then in the order the
 * sentences were said: the keyset (call_scheduled_at, call_id, sequence_number) is the btree
 * transcripts_recency_idx (migration 005), so a common word costs one page of index walk, and a
 * rare one the GIN index and a sort of its few matches; PostgreSQL picks by the word's frequency.
 * Snippets (ts_headline, the costly part) are built for the page's rows only, from HTML-escaped
 * text. A query without searchable words (only stop words) matches nothing.
 */
export async function searchTranscripts(db: Database, scope: Scope, input: SearchInput) {
  const rows = await db.connect((connection) => connection.any(searchQuery(scope, input)));
  const result = page(rows, input.limit, ({ hit }) => [hit.scheduled_at, hit.call_id, hit.sequence_number]);
  return { data: result.data.map((row) => row.hit), next_cursor: result.next_cursor };
}

/** searchTranscripts' statement; exported so the bench EXPLAINs this very statement. */
export function searchQuery(scope: Scope, input: SearchInput) {
  const after = input.cursor ? decodeCursor(input.cursor, ['timestamp', 'uuid', 'integer']) : null;
  const query = sql.fragment`websearch_to_tsquery('english', ${input.q})`;
  return sql.type(rowsOf<{ hit: SearchHit }>())`
      WITH hits AS (
        SELECT t.id, t.call_id, t.call_scheduled_at, t.sequence_number, t.speaker_id, t.start_time_ms, t.text
        FROM transcripts t
        -- Only a rep's scope needs the call; every segment has one (foreign key).
        ${scope.repEmail === null ? sql.fragment`` : sql.fragment`JOIN calls c ON c.id = t.call_id`}
        WHERE t.search_vector @@ ${query}
          AND ${input.callId ? sql.fragment`t.call_id = ${input.callId}` : sql.fragment`TRUE`}
          AND ${scope.repEmail === null ? sql.fragment`TRUE` : visibleCall(scope, 'c')}
          AND ${after
            // After the cursor's sentence: an earlier call (in the order), or a later sentence of its call.
            ? sql.fragment`(t.call_scheduled_at, t.call_id) <= (${after[0]}::timestamptz, ${after[1]}::uuid)
                AND ((t.call_scheduled_at, t.call_id) < (${after[0]}::timestamptz, ${after[1]}::uuid)
                     OR t.sequence_number > ${after[2]})`
            : sql.fragment`TRUE`}
        ORDER BY t.call_scheduled_at DESC, t.call_id DESC, t.sequence_number
        LIMIT ${input.limit + 1}
      )
      SELECT json_build_object(
        'segment_id', h.id, 'call_id', h.call_id, 'call_title', c.title, 'scheduled_at', c.scheduled_at,
        'sequence_number', h.sequence_number, 'speaker_id', h.speaker_id, 'speaker_name', sp.name,
        'start_time_ms', h.start_time_ms, 'text', h.text,
        -- The text is HTML-escaped first, so the only markup in a snippet is our <mark>.
        'snippet', ts_headline('english', replace(replace(replace(h.text, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), ${query},
                               'StartSel=<mark>, StopSel=</mark>, MaxWords=35, MinWords=15, MaxFragments=2')) AS hit
      FROM hits h
      JOIN calls c ON c.id = h.call_id
      LEFT JOIN speakers sp ON sp.id = h.speaker_id
      ORDER BY h.call_scheduled_at DESC, h.call_id DESC, h.sequence_number`;
}

export type ConversationMetrics = {
  call_id: string;
  has_transcript: boolean;
  total_talk_seconds: number | null;
  talk_ratio: number | null;
  longest_monologue_seconds: number | null;
  longest_customer_story_seconds: number | null;
  interactivity: number | null;
  patience_seconds: number | null;
  question_rate_per_hour: number | null;
  speakers: { speaker_id: string; name: string; company_side: boolean; talk_time_seconds: number; talk_time_percentage: number | null }[];
  /** Gong's own interaction stats (migration 007), null when the call did not come through the sync. */
  gong: Record<string, unknown> | null;
};

/**
 * The call's conversation metrics, scaled from the raw figures of call_conversation_metrics
 * (migration 004 defines each): seconds exact to the millisecond, talk ratio and question rate
 * rounded to 2 decimals, interactivity to 1, patience to 3 (ms). Null when the scope cannot see
 * the call.
 */
export function getCallMetrics(db: Database, scope: Scope, callId: string): Promise<ConversationMetrics | null> {
  return db.connect((connection) =>
    connection.maybeOneFirst(sql.type(rowsOf<{ metrics: ConversationMetrics }>())`
      SELECT json_build_object(
        'call_id', c.id,
        'has_transcript', m.segment_count > 0,
        'total_talk_seconds', m.total_talk_ms / 1000.0,
        'talk_ratio', round(100.0 * m.company_talk_ms / nullif(m.total_talk_ms, 0), 2),
        'longest_monologue_seconds', m.longest_monologue_ms / 1000.0,
        'longest_customer_story_seconds', m.longest_customer_story_ms / 1000.0,
        -- least() ignores NULL: without a (non-zero) span there is no interactivity.
        'interactivity', CASE WHEN m.span_ms > 0 THEN round(least(10, 100000.0 * m.speaker_switches / m.span_ms), 1) END,
        'patience_seconds', round(m.patience_ms / 1000.0, 3),
        'question_rate_per_hour', round(3600000.0 * m.questions / nullif(m.span_ms, 0), 2),
        'speakers', coalesce((
          SELECT json_agg(json_build_object(
            'speaker_id', sp.id, 'name', sp.name, 'company_side', sp.company_side,
            'talk_time_seconds', tt.talk_ms / 1000.0, 'talk_time_percentage', tt.talk_percentage)
            ORDER BY sp.added_order)
          FROM call_speaker_talk_time(ARRAY[c.id]) tt JOIN speakers sp ON sp.id = tt.speaker_id), '[]'::json),
        'gong', ${gongStatsJson}
      ) AS metrics
      FROM calls c
      CROSS JOIN LATERAL call_conversation_metrics(ARRAY[c.id]) m
      WHERE c.id = ${callId} AND ${visibleCall(scope, 'c')}`),
  );
}
