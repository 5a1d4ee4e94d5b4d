-- call_scaled_metrics(call_ids): the per-call conversation metrics as the contract states them,
-- scaled from migration 004's raw figures, in one definition for every caller (GET
-- /calls/{id}/metrics rounds them for one call; rep insights average them over calls). Unrounded,
-- so an average over calls is exact. One row per existing call among call_ids:
--   call_id                         the call
--   has_transcript                  segment_count > 0; when false every column below is NULL
--   total_talk_seconds              total_talk_ms / 1000
--   talk_ratio                      company share of talk time, %; NULL when nobody talked
--   longest_monologue_seconds       longest company-side monologue, s
--   longest_customer_story_seconds  longest customer-side monologue, s
--   interactivity                   0-10: least(10, 100000 * speaker_switches / span_ms); NULL
--                                   without a non-zero span (one instant: no rate to speak of)
--   patience_seconds                average pause before a company answer, s; NULL without answers
--   question_rate_per_hour          company questions per hour of span; NULL without a non-zero span
CREATE FUNCTION call_scaled_metrics(call_ids uuid[])
RETURNS TABLE (
  call_id                        uuid,
  has_transcript                 boolean,
  total_talk_seconds             numeric,
  talk_ratio                     numeric,
  longest_monologue_seconds      numeric,
  longest_customer_story_seconds numeric,
  interactivity                  numeric,
  patience_seconds               numeric,
  question_rate_per_hour         numeric
)
LANGUAGE sql STABLE
AS $$
  SELECT m.call_id,
         m.segment_count > 0,
         m.total_talk_ms / 1000.0,
         100.0 * m.company_talk_ms / nullif(m.total_talk_ms, 0),
         m.longest_monologue_ms / 1000.0,
         m.longest_customer_story_ms / 1000.0,
         -- Not least(10, x / nullif(span, 0)): least() ignores NULL and would answer 10.
         CASE WHEN m.span_ms > 0 THEN least(10, 100000.0 * m.speaker_switches / m.span_ms) END,
         m.patience_ms / 1000.0,
         3600000.0 * m.questions / nullif(m.span_ms, 0)
  FROM call_conversation_metrics(call_ids) m
$$;

COMMENT ON FUNCTION call_scaled_metrics(uuid[]) IS
  'Per-call conversation metrics in the contract''s units, unrounded (see migration 006).';
