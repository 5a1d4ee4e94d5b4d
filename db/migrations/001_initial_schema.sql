-- Call Coach initial schema: calls, the speakers on them, transcript segments, coaching
-- analyses and Gong webhook deliveries. Plain SQL: `psql "$DATABASE_URL" -1 -v ON_ERROR_STOP=1 -f`
-- applies it by hand; the runner (db/migrate.ts) applies it in one transaction and records it.

CREATE TABLE calls (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  gong_call_id     text NOT NULL,
  title            text NOT NULL,
  scheduled_at     timestamptz NOT NULL,
  duration_seconds integer,
  call_type        text NOT NULL DEFAULT 'other',
  product          text,
  metadata         jsonb NOT NULL DEFAULT '{}'::jsonb,
  processed_at     timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT calls_gong_call_id_key UNIQUE (gong_call_id),
  CONSTRAINT calls_gong_call_id_format CHECK (gong_call_id ~ '^[0-9]{1,20}$'),
  CONSTRAINT calls_title_length CHECK (char_length(title) BETWEEN 1 AND 500),
  CONSTRAINT calls_duration_range CHECK (duration_seconds BETWEEN 0 AND 86400),
  CONSTRAINT calls_call_type_known CHECK (call_type IN (
    'discovery', 'demo', 'negotiation', 'technical_deep_dive', 'follow_up',
    'onboarding', 'qbr', 'renewal', 'other')),
  CONSTRAINT calls_metadata_object CHECK (jsonb_typeof(metadata) = 'object')
);

-- Lists page by scheduled time, newest first, with the id as tie-breaker (keyset cursor).
CREATE INDEX calls_scheduled_at_id_idx ON calls (scheduled_at DESC, id DESC);
CREATE INDEX calls_product_scheduled_at_idx ON calls (product, scheduled_at DESC);

CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;

CREATE TRIGGER calls_set_updated_at
  BEFORE UPDATE ON calls
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE speakers (
  id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  call_id              uuid NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
  name                 text NOT NULL,
  email                text,
  role                 text NOT NULL,
  company_side         boolean NOT NULL DEFAULT false,
  talk_time_seconds    numeric(10, 2),
  talk_time_percentage numeric(5, 2),
  created_at           timestamptz NOT NULL DEFAULT now(),
  -- Keeps speakers in the order they were added, also within one multi-row insert.
  added_order          bigint GENERATED ALWAYS AS IDENTITY,
  -- One row per person per call; the index also serves "speakers of a call".
  CONSTRAINT speakers_call_id_email_key UNIQUE (call_id, email),
  CONSTRAINT speakers_name_length CHECK (char_length(name) BETWEEN 1 AND 200),
  CONSTRAINT speakers_role_known CHECK (role IN (
    'ae', 'se', 'csm', 'support', 'manager', 'prospect', 'customer', 'other')),
  CONSTRAINT speakers_talk_time_nonnegative CHECK (talk_time_seconds >= 0),
  CONSTRAINT speakers_talk_time_percentage_range CHECK (talk_time_percentage BETWEEN 0 AND 100)
);

-- People are matched across calls by email, case-insensitively.
CREATE INDEX speakers_email_lower_idx ON speakers (lower(email));

CREATE TABLE transcripts (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  call_id           uuid NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
  speaker_id        uuid REFERENCES speakers (id) ON DELETE SET NULL,
  sequence_number   integer NOT NULL,
  timestamp_seconds numeric(10, 3) NOT NULL,
  text              text NOT NULL,
  topics            text[] NOT NULL DEFAULT '{}',
  sentiment         text NOT NULL DEFAULT 'neutral',
  chunk_metadata    jsonb NOT NULL DEFAULT '{}'::jsonb,
  search_vector     tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
  created_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT transcripts_call_id_sequence_number_key UNIQUE (call_id, sequence_number),
  CONSTRAINT transcripts_sequence_number_nonnegative CHECK (sequence_number >= 0),
  CONSTRAINT transcripts_timestamp_nonnegative CHECK (timestamp_seconds >= 0),
  CONSTRAINT transcripts_sentiment_known CHECK (sentiment IN ('positive', 'neutral', 'negative'))
);

CREATE INDEX transcripts_search_vector_idx ON transcripts USING gin (search_vector);
CREATE INDEX transcripts_speaker_id_idx ON transcripts (speaker_id);

CREATE TABLE analyses (
  id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  call_id               uuid NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
  speaker_id            uuid REFERENCES speakers (id) ON DELETE SET NULL,
  rep_email             text NOT NULL,
  scores                jsonb NOT NULL DEFAULT '{}'::jsonb,
  overall_score         numeric(5, 2),
  strengths             text[] NOT NULL DEFAULT '{}',
  areas_for_improvement text[] NOT NULL DEFAULT '{}',
  action_items          text[] NOT NULL DEFAULT '{}',
  specific_examples     jsonb NOT NULL DEFAULT '{"good": [], "needs_work": []}'::jsonb,
  coaching_notes        text,
  analyst               text NOT NULL,
  rubric_version        text NOT NULL,
  raw_output            jsonb,
  created_at            timestamptz NOT NULL DEFAULT now(),
  -- Not partitioned: the earlier implementation's quarterly partitions expired (DOMAIN.md).
  CONSTRAINT analyses_overall_score_range CHECK (overall_score BETWEEN 0 AND 100),
  CONSTRAINT analyses_scores_object CHECK (jsonb_typeof(scores) = 'object')
);

CREATE INDEX analyses_call_id_idx ON analyses (call_id);
CREATE INDEX analyses_rep_email_created_at_idx ON analyses (lower(rep_email), created_at DESC);

CREATE TABLE webhook_events (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  delivery_id        text NOT NULL,
  event_type         text NOT NULL,
  gong_call_id       text,
  payload            jsonb NOT NULL,
  signature_verified boolean NOT NULL DEFAULT false,
  status             text NOT NULL DEFAULT 'received',
  error              text,
  received_at        timestamptz NOT NULL DEFAULT now(),
  processed_at       timestamptz,
  -- Gong re-delivers; the delivery id makes ingestion idempotent.
  CONSTRAINT webhook_events_delivery_id_key UNIQUE (delivery_id),
  CONSTRAINT webhook_events_status_known CHECK (status IN ('received', 'processing', 'completed', 'failed'))
);

CREATE INDEX webhook_events_status_received_at_idx ON webhook_events (status, received_at);
