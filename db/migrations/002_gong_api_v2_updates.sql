-- Gong API v2: sentence timings arrive in milliseconds from call start (with an end), and Gong
-- gives no sentiment. Topics become searchable by containment (GIN).

ALTER TABLE transcripts RENAME COLUMN timestamp_seconds TO start_time_ms;
ALTER TABLE transcripts
  ALTER COLUMN start_time_ms TYPE bigint USING round(start_time_ms * 1000)::bigint;
ALTER TABLE transcripts RENAME CONSTRAINT transcripts_timestamp_nonnegative TO transcripts_start_time_nonnegative;

ALTER TABLE transcripts ADD COLUMN end_time_ms bigint;
ALTER TABLE transcripts
  ADD CONSTRAINT transcripts_end_after_start CHECK (end_time_ms >= start_time_ms);

ALTER TABLE transcripts ALTER COLUMN sentiment DROP NOT NULL;
ALTER TABLE transcripts ALTER COLUMN sentiment DROP DEFAULT;

CREATE INDEX transcripts_topics_idx ON transcripts USING gin (topics);
