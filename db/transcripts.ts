import { sql } from 'slonik';
import { z } from 'zod';
import type { Database } from './pool.js';
import type { Precondition } from './precondition.js';
import { decodeCursor, page } from './cursor.js';
import { gongStats, gongStatsJson } from './gong-call-data.js';
import { noRows, row, timestamp, utc, uuid } from './rows.js';
import { visibleCall, TRUE, type Scope } from './scope.js';

/** Gong's v2 transcript of one call: one entry per monologue (the contract has checked it). */
export type GongMonologue = {
  speakerId: string;
  topic?: string | null;
  sentences: readonly { start: number; end: number; text: string }[];
};

const transcriptIngest = row({
  call_id: uuid,
  segment_count: z.number().int(),
  duration_ms: z.number().int(),
  unmatched_speaker_ids: z.array(z.string()),
  speakers: z.array(
    row({
      speaker_id: uuid,
      name: z.string(),
      talk_time_seconds: z.number().nullable(),
      talk_time_percentage: z.number().nullable(),
    }),
  ),
});
export type TranscriptIngest = z.infer<typeof transcriptIngest>;

const transcriptSegment = row({
  id: uuid,
  sequence_number: z.number().int(),
  speaker_id: uuid.nullable(),
  speaker_name: z.string().nullable(),
  gong_speaker_id: z.string().nullable(),
  start_time_ms: z.number().int(),
  end_time_ms: z.number().int().nullable(),
  text: z.string(),
  topics: z.array(z.string()),
  // The CHECK constraint of migration 001, as the contract's enum.
  sentiment: z.enum(['positive', 'neutral', 'negative']).nullable(),
});
const transcriptRecord = row({ call_id: uuid, segment_count: z.number().int(), segments: z.array(transcriptSegment) });
export type Transcript = z.infer<typeof transcriptRecord>;

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
  return sql.type(noRows)`
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
    const found = await transaction.maybeOneFirst(sql.type(row({ id: uuid }))`
      SELECT id FROM calls WHERE id = ${callId} FOR NO KEY UPDATE`);
    if (found === null) return null;
    if (precondition) {
      // A statement of its own after the lock, so it sees what the lock waited for.
      precondition(await transaction.oneFirst(sql.type(row({ transcript: transcriptRecord }))`
        SELECT ${transcriptJson} AS transcript FROM calls c WHERE c.id = ${callId}`));
    }

    await transaction.query(sql.type(noRows)`DELETE FROM transcripts WHERE call_id = ${callId}`);

    await transaction.query(insertSegmentsQuery(callId, transcript));

    await transaction.query(sql.type(noRows)`
      UPDATE speakers sp
      SET talk_time_seconds = round(tt.talk_ms / 1000.0, 2), talk_time_percentage = tt.talk_percentage
      FROM call_speaker_talk_time(ARRAY[${callId}]::uuid[]) tt
      WHERE sp.id = tt.speaker_id`);

    return transaction.oneFirst(sql.type(row({ ingest: transcriptIngest }))`
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
    connection.maybeOneFirst(sql.type(row({ transcript: transcriptRecord }))`
      SELECT ${transcriptJson} AS transcript
      FROM calls c WHERE c.id = ${callId} AND ${visibleCall(scope, 'c')}`),
  );
}

const searchHit = row({
  segment_id: uuid,
  call_id: uuid,
  call_title: z.string(),
  scheduled_at: timestamp,
  sequence_number: z.number().int(),
  speaker_id: uuid.nullable(),
  speaker_name: z.string().nullable(),
  start_time_ms: z.number().int(),
  text: z.string(),
  snippet: z.string(),
});
export type SearchHit = z.infer<typeof searchHit>;

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
  return sql.type(row({ hit: searchHit }))`
      WITH hits AS (
        SELECT t.id, t.call_id, t.call_scheduled_at, t.sequence_number, t.speaker_id, t.start_time_ms, t.text
        FROM transcripts t
        -- Only a rep's scope needs the call; every segment has one (foreign key).
        ${scope.repEmail === null ? sql.fragment`` : sql.fragment`JOIN calls c ON c.id = t.call_id`}
        WHERE t.search_vector @@ ${query}
          AND ${input.callId ? sql.fragment`t.call_id = ${input.callId}` : TRUE}
          AND ${scope.repEmail === null ? TRUE : visibleCall(scope, 'c')}
          AND ${after
            // After the cursor's sentence: an earlier call (in the order), or a later sentence of its call.
            ? sql.fragment`(t.call_scheduled_at, t.call_id) <= (${after[0]}::timestamptz, ${after[1]}::uuid)
                AND ((t.call_scheduled_at, t.call_id) < (${after[0]}::timestamptz, ${after[1]}::uuid)
                     OR t.sequence_number > ${after[2]})`
            : TRUE}
        ORDER BY t.call_scheduled_at DESC, t.call_id DESC, t.sequence_number
        LIMIT ${input.limit + 1}
      )
      SELECT json_build_object(
        'segment_id', h.id, 'call_id', h.call_id, 'call_title', c.title, 'scheduled_at', ${utc(sql.fragment`c.scheduled_at`)},
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

const conversationMetrics = row({
  call_id: uuid,
  has_transcript: z.boolean(),
  total_talk_seconds: z.number().nullable(),
  talk_ratio: z.number().nullable(),
  longest_monologue_seconds: z.number().nullable(),
  longest_customer_story_seconds: z.number().nullable(),
  interactivity: z.number().nullable(),
  patience_seconds: z.number().nullable(),
  question_rate_per_hour: z.number().nullable(),
  speakers: z.array(
    row({
      speaker_id: uuid,
      name: z.string(),
      company_side: z.boolean(),
      talk_time_seconds: z.number(),
      talk_time_percentage: z.number().nullable(),
    }),
  ),
  /** Gong's own interaction stats (migration 007), null when the call did not come through the sync. */
  gong: gongStats.nullable(),
});
export type ConversationMetrics = z.infer<typeof conversationMetrics>;

/**
 * The call's conversation metrics as call_scaled_metrics (migration 006) defines them: seconds
 * exact to the millisecond, talk ratio and question rate rounded to 2 decimals, interactivity to
 * 1, patience to 3 (ms). Null when the scope cannot see the call.
 */
export function getCallMetrics(db: Database, scope: Scope, callId: string): Promise<ConversationMetrics | null> {
  return db.connect((connection) =>
    connection.maybeOneFirst(sql.type(row({ metrics: conversationMetrics }))`
      SELECT json_build_object(
        'call_id', c.id,
        'has_transcript', m.has_transcript,
        'total_talk_seconds', m.total_talk_seconds,
        'talk_ratio', round(m.talk_ratio, 2),
        'longest_monologue_seconds', m.longest_monologue_seconds,
        'longest_customer_story_seconds', m.longest_customer_story_seconds,
        'interactivity', round(m.interactivity, 1),
        'patience_seconds', round(m.patience_seconds, 3),
        'question_rate_per_hour', round(m.question_rate_per_hour, 2),
        'speakers', coalesce((
          SELECT json_agg(json_build_object(
            'speaker_id', sp.id, 'name', sp.name, 'company_side', sp.company_side,
            'talk_time_seconds', tt.talk_ms / 1000.0, 'talk_time_percentage', tt.talk_percentage)
            ORDER BY sp.added_order)
          FROM call_speaker_talk_time(ARRAY[c.id]) tt JOIN speakers sp ON sp.id = tt.speaker_id), '[]'::json),
        'gong', ${gongStatsJson}
      ) AS metrics
      FROM calls c
      CROSS JOIN LATERAL call_scaled_metrics(ARRAY[c.id]) m
      WHERE c.id = ${callId} AND ${visibleCall(scope, 'c')}`),
  );
}
