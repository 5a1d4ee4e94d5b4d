-- Transcript search lists matches newest call first, then in the order they were said (issue 5).
-- Ranking every match by relevance cost ~300 ms for a common word on 1M segments (every match
-- fetched and scored), and on one-sentence segments the rank barely differs between matches.
--
-- The call's scheduled_at is copied onto each segment so that one btree serves both the order
-- and the keyset cursor: for a common word PostgreSQL walks that index newest first and stops
-- after a page; for a rare one it takes the GIN index and sorts the few matches. A composite
-- foreign key keeps the copy equal to the call's: changing a call's scheduled_at cascades to its
-- segments in the same transaction.

ALTER TABLE calls ADD CONSTRAINT calls_id_scheduled_at_key UNIQUE (id, scheduled_at);

ALTER TABLE transcripts ADD COLUMN call_scheduled_at timestamptz;
UPDATE transcripts t SET call_scheduled_at = c.scheduled_at FROM calls c WHERE c.id = t.call_id;
ALTER TABLE transcripts ALTER COLUMN call_scheduled_at SET NOT NULL;

ALTER TABLE transcripts DROP CONSTRAINT transcripts_call_id_fkey;
ALTER TABLE transcripts
  ADD CONSTRAINT transcripts_call_fkey FOREIGN KEY (call_id, call_scheduled_at)
  REFERENCES calls (id, scheduled_at) ON UPDATE CASCADE ON DELETE CASCADE;

-- A row inserted without the copy (by hand, with psql) gets it from its call. The service's
-- transcript ingest sets it itself, so the trigger's condition is false there and costs nothing.
CREATE FUNCTION transcripts_copy_call_scheduled_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  SELECT scheduled_at INTO NEW.call_scheduled_at FROM calls WHERE id = NEW.call_id;
  RETURN NEW;
END $$;

CREATE TRIGGER transcripts_copy_call_scheduled_at
  BEFORE INSERT ON transcripts
  FOR EACH ROW WHEN (NEW.call_scheduled_at IS NULL)
  EXECUTE FUNCTION transcripts_copy_call_scheduled_at();

CREATE INDEX transcripts_recency_idx ON transcripts (call_scheduled_at DESC, call_id DESC, sequence_number);

-- Which plan is cheaper depends on how often the words occur, so the estimate for a rare word
-- matters: with the default statistics only ~1,000 frequent lexemes are tracked and any other
-- word is guessed at half the rarest of them (0.5% of 1M segments for `hipaa`, which has 221), so
-- PostgreSQL walked the btree through a quarter of the table. Track 10,000.
ALTER TABLE transcripts ALTER COLUMN search_vector SET STATISTICS 1000;
ANALYZE transcripts;

-- No query filters segments by topic; the index only cost every transcript ingest.
DROP INDEX transcripts_topics_idx;
