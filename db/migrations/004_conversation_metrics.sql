-- Conversation metrics (DOMAIN.md, "Conversation metrics") computed from transcript timing, as two
-- SQL functions that take many calls at once, so per-call endpoints and per-rep insights share
-- one definition. Both are LANGUAGE sql STABLE (read-only; inside a transaction they see its own
-- writes, which is how PUT /calls/{id}/transcript stores talk time right after the new segments).
--
-- Shared conventions:
--   * A segment is one transcript row (one sentence). Its duration is
--     greatest(coalesce(end_time_ms, start_time_ms) - start_time_ms, 0) ms.
--   * Its side is its speaker's company_side; a segment without a speaker (a Gong speaker id
--     no speaker of the call carries) counts as customer side (Gong's staff are known users,
--     unknown participants are external).
--   * Its speaker identity is the speaker id, else 'gong:' || gong_speaker_id.
--   * Order is sequence_number. A monologue is an island of consecutive segments with one
--     speaker identity (gaps-and-islands); it lasts from its first segment's start to the
--     latest end among its segments (pauses inside it included).

-- call_conversation_metrics(call_ids): one row per existing call among call_ids (unknown ids give
-- no row). Raw figures, not scaled, so callers can aggregate across calls exactly:
--   call_id                    the call
--   segment_count              transcript rows; 0 means no transcript, and then every column
--                              below is NULL
--   total_talk_ms              sum of segment durations (all speakers)
--   company_talk_ms            the same, company-side segments only
--                              (talk ratio % = 100 * company_talk_ms / total_talk_ms)
--   longest_monologue_ms       longest company-side monologue (0 when the company never spoke)
--   longest_customer_story_ms  longest customer-side monologue (0 when the customer never spoke)
--   speaker_switches           monologues - 1: how often the speaker changes
--   span_ms                    latest end - earliest start over the transcript
--                              (interactivity 0-10 = least(10, speaker_switches per minute of
--                              span / 6 * 10) = least(10, 100000 * speaker_switches / span_ms))
--   answers                    company-side monologues directly following a customer-side one
--   patience_ms                average pause before those answers: the answer's start minus the
--                              customer monologue's end, a negative pause (overlap) counting as 0;
--                              NULL when there are no answers. Across calls, weight by answers.
--   questions                  company-side segments whose text, trailing spaces trimmed, ends
--                              in '?' (question rate per hour = questions * 3600000 / span_ms)
CREATE FUNCTION call_conversation_metrics(call_ids uuid[])
RETURNS TABLE (
  call_id                   uuid,
  segment_count             bigint,
  total_talk_ms             bigint,
  company_talk_ms           bigint,
  longest_monologue_ms      bigint,
  longest_customer_story_ms bigint,
  speaker_switches          bigint,
  span_ms                   bigint,
  answers                   bigint,
  patience_ms               numeric,
  questions                 bigint
)
LANGUAGE sql STABLE
AS $$
  WITH segment AS (
    SELECT t.call_id, t.sequence_number, t.text,
           t.start_time_ms AS start_ms,
           greatest(coalesce(t.end_time_ms, t.start_time_ms), t.start_time_ms) AS end_ms,
           coalesce(t.speaker_id::text, 'gong:' || t.gong_speaker_id, 'unknown') AS who,
           coalesce(sp.company_side, false) AS company
    FROM transcripts t
    LEFT JOIN speakers sp ON sp.id = t.speaker_id
    WHERE t.call_id = ANY (call_ids)
  ),
  marked AS (
    SELECT s.*,
           CASE WHEN s.who IS DISTINCT FROM lag(s.who) OVER (PARTITION BY s.call_id ORDER BY s.sequence_number)
                THEN 1 ELSE 0 END AS starts_monologue
    FROM segment s
  ),
  numbered AS (
    SELECT m.*, sum(m.starts_monologue) OVER (PARTITION BY m.call_id ORDER BY m.sequence_number) AS monologue
    FROM marked m
  ),
  monologue AS (
    SELECT n.call_id, n.monologue, bool_or(n.company) AS company,
           min(n.start_ms) AS start_ms, max(n.end_ms) AS end_ms
    FROM numbered n
    GROUP BY n.call_id, n.monologue
  ),
  turn AS (
    SELECT mo.call_id, mo.company,
           lag(mo.company) OVER w AS previous_company,
           mo.start_ms - lag(mo.end_ms) OVER w AS pause_ms
    FROM monologue mo
    WINDOW w AS (PARTITION BY mo.call_id ORDER BY mo.monologue)
  ),
  per_call AS (
    SELECT s.call_id, count(*) AS segment_count,
           sum(s.end_ms - s.start_ms) AS total_talk_ms,
           coalesce(sum(s.end_ms - s.start_ms) FILTER (WHERE s.company), 0) AS company_talk_ms,
           max(s.end_ms) - min(s.start_ms) AS span_ms,
           count(*) FILTER (WHERE s.company AND right(rtrim(s.text), 1) = '?') AS questions
    FROM segment s
    GROUP BY s.call_id
  ),
  per_monologue AS (
    SELECT mo.call_id, count(*) - 1 AS speaker_switches,
           coalesce(max(mo.end_ms - mo.start_ms) FILTER (WHERE mo.company), 0) AS longest_monologue_ms,
           coalesce(max(mo.end_ms - mo.start_ms) FILTER (WHERE NOT mo.company), 0) AS longest_customer_story_ms
    FROM monologue mo
    GROUP BY mo.call_id
  ),
  per_answer AS (
    SELECT tu.call_id, count(*) AS answers, avg(greatest(tu.pause_ms, 0)) AS patience_ms
    FROM turn tu
    WHERE tu.company AND tu.previous_company = false
    GROUP BY tu.call_id
  )
  SELECT c.id,
         coalesce(pc.segment_count, 0),
         pc.total_talk_ms::bigint,
         pc.company_talk_ms::bigint,
         pm.longest_monologue_ms::bigint,
         pm.longest_customer_story_ms::bigint,
         pm.speaker_switches,
         pc.span_ms::bigint,
         CASE WHEN pc.call_id IS NOT NULL THEN coalesce(pa.answers, 0) END,
         pa.patience_ms,
         pc.questions
  FROM calls c
  LEFT JOIN per_call pc ON pc.call_id = c.id
  LEFT JOIN per_monologue pm ON pm.call_id = c.id
  LEFT JOIN per_answer pa ON pa.call_id = c.id
  WHERE c.id = ANY (call_ids)
$$;

COMMENT ON FUNCTION call_conversation_metrics(uuid[]) IS
  'Raw conversation metrics per call (see migration 004 for every column''s definition).';

-- call_speaker_talk_time(call_ids): one row per speaker of each call among call_ids that has a
-- transcript (calls without one give no rows):
--   call_id, speaker_id  the speaker
--   talk_ms              sum of the durations of the speaker's segments; 0 when they have none
--   talk_percentage      100 * talk_ms / the call's total_talk_ms (all segments, unmatched speakers
--                        included), rounded to 2 decimals; NULL when the total is 0
CREATE FUNCTION call_speaker_talk_time(call_ids uuid[])
RETURNS TABLE (call_id uuid, speaker_id uuid, talk_ms bigint, talk_percentage numeric)
LANGUAGE sql STABLE
AS $$
  WITH segment AS (
    SELECT t.call_id, t.speaker_id,
           greatest(coalesce(t.end_time_ms, t.start_time_ms) - t.start_time_ms, 0) AS duration_ms
    FROM transcripts t
    WHERE t.call_id = ANY (call_ids)
  ),
  total AS (
    SELECT s.call_id, sum(s.duration_ms) AS talk_ms FROM segment s GROUP BY s.call_id
  ),
  per_speaker AS (
    SELECT s.speaker_id, sum(s.duration_ms) AS talk_ms
    FROM segment s WHERE s.speaker_id IS NOT NULL GROUP BY s.speaker_id
  )
  SELECT sp.call_id, sp.id,
         coalesce(ps.talk_ms, 0)::bigint,
         CASE WHEN tot.talk_ms > 0 THEN round(100 * coalesce(ps.talk_ms, 0) / tot.talk_ms, 2) END
  FROM speakers sp
  JOIN total tot ON tot.call_id = sp.call_id
  LEFT JOIN per_speaker ps ON ps.speaker_id = sp.id
  WHERE sp.call_id = ANY (call_ids)
$$;

COMMENT ON FUNCTION call_speaker_talk_time(uuid[]) IS
  'Talk time per speaker from the transcript (see migration 004).';
