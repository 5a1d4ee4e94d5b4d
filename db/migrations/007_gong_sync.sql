-- Gong sync (issue 14): runs of the sync with their checkpoint and counts, the daily Gong request
-- budget, what the sync knows of each Gong call (so an unchanged call writes nothing), Gong's
-- trackers (definitions, per-call counts and occurrences), Gong's own interaction stats, and party
-- titles.

-- One run syncs one window of Gong calls (Gong filters on the call's start time, `from` inclusive,
-- `to` exclusive). At most one run is `running` at a time across all replicas: the partial unique
-- index below is the lock. The running process holds a lease (lease_expires_at), renewed while it
-- works; a run whose lease expired (its process was killed) is taken over by the next process
-- that looks, and continues from its checkpoint (`cursor`: the Gong cursor of the next page).
CREATE TABLE gong_sync_runs (
  id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  status               text NOT NULL DEFAULT 'queued',
  trigger              text NOT NULL,
  window_from          timestamptz NOT NULL,
  window_to            timestamptz NOT NULL,
  cursor               text,
  pages                integer NOT NULL DEFAULT 0,
  calls_seen           integer NOT NULL DEFAULT 0,
  created              integer NOT NULL DEFAULT 0,
  updated              integer NOT NULL DEFAULT 0,
  unchanged            integer NOT NULL DEFAULT 0,
  private_skipped      integer NOT NULL DEFAULT 0,
  private_removed      integer NOT NULL DEFAULT 0,
  transcripts_ingested integer NOT NULL DEFAULT 0,
  requests             integer NOT NULL DEFAULT 0,
  rate_limited         integer NOT NULL DEFAULT 0,
  retries              integer NOT NULL DEFAULT 0,
  error                text,
  -- A run stopped by the daily budget (or a long Retry-After) waits queued until then.
  resume_after         timestamptz,
  lease_owner          text,
  lease_expires_at     timestamptz,
  created_at           timestamptz NOT NULL DEFAULT now(),
  started_at           timestamptz,
  finished_at          timestamptz,
  updated_at           timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT gong_sync_runs_status_known CHECK (status IN ('queued', 'running', 'completed', 'failed')),
  CONSTRAINT gong_sync_runs_trigger_known CHECK (trigger IN ('api', 'schedule', 'cli')),
  CONSTRAINT gong_sync_runs_window_order CHECK (window_from < window_to),
  CONSTRAINT gong_sync_runs_running_leased CHECK (status <> 'running' OR (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL)),
  CONSTRAINT gong_sync_runs_counts_nonnegative CHECK (
    least(pages, calls_seen, created, updated, unchanged, private_skipped, private_removed,
          transcripts_ingested, requests, rate_limited, retries) >= 0)
);

CREATE UNIQUE INDEX gong_sync_runs_one_running ON gong_sync_runs ((true)) WHERE status = 'running';
-- The schedule enqueues one run at a time, however many replicas tick.
CREATE UNIQUE INDEX gong_sync_runs_one_scheduled ON gong_sync_runs ((true))
  WHERE trigger = 'schedule' AND status IN ('queued', 'running');
CREATE INDEX gong_sync_runs_created_at_id_idx ON gong_sync_runs (created_at DESC, id DESC);
CREATE INDEX gong_sync_runs_pending_idx ON gong_sync_runs (created_at, id) WHERE status IN ('queued', 'running');
CREATE INDEX gong_sync_runs_completed_window_idx ON gong_sync_runs (window_to DESC) WHERE status = 'completed';

CREATE TRIGGER gong_sync_runs_set_updated_at
  BEFORE UPDATE ON gong_sync_runs
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Requests sent to Gong per UTC day (Gong allows 10,000 a day per company), counted before each
-- request by whichever process sends it.
CREATE TABLE gong_api_usage (
  day      date PRIMARY KEY,
  requests integer NOT NULL DEFAULT 0,
  CONSTRAINT gong_api_usage_requests_nonnegative CHECK (requests >= 0)
);

-- What the last sync stored of each Gong call: digests of Gong's call data and transcript as
-- fetched. A call whose data and transcript digests are unchanged is skipped without a write.
CREATE TABLE gong_call_sync_state (
  call_id           uuid PRIMARY KEY REFERENCES calls (id) ON DELETE CASCADE,
  content_sha256    text NOT NULL,
  transcript_sha256 text,
  synced_at         timestamptz NOT NULL DEFAULT now()
);

-- Gong's trackers (keyword and smart), as the calls carry them.
CREATE TABLE gong_trackers (
  id         text PRIMARY KEY,
  name       text NOT NULL,
  type       text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT gong_trackers_id_length CHECK (char_length(id) BETWEEN 1 AND 40),
  CONSTRAINT gong_trackers_name_length CHECK (char_length(name) BETWEEN 1 AND 200),
  CONSTRAINT gong_trackers_type_known CHECK (type IN ('KEYWORD', 'SMART'))
);
CREATE INDEX gong_trackers_name_lower_idx ON gong_trackers (lower(name));

CREATE TABLE call_trackers (
  call_id    uuid NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
  tracker_id text NOT NULL REFERENCES gong_trackers (id) ON DELETE CASCADE,
  count      integer NOT NULL,
  PRIMARY KEY (call_id, tracker_id),
  CONSTRAINT call_trackers_count_nonnegative CHECK (count >= 0)
);
-- GET /calls?tracker=…: calls where the tracker came up.
CREATE INDEX call_trackers_tracker_id_call_id_idx ON call_trackers (tracker_id, call_id) WHERE count > 0;

-- When a tracker came up: Gong gives seconds from call start and the speaker's Gong speaker id.
CREATE TABLE call_tracker_occurrences (
  call_id         uuid NOT NULL,
  tracker_id      text NOT NULL,
  ordinal         integer NOT NULL,
  start_time_ms   bigint NOT NULL,
  gong_speaker_id text,
  speaker_id      uuid REFERENCES speakers (id) ON DELETE SET NULL,
  PRIMARY KEY (call_id, tracker_id, ordinal),
  FOREIGN KEY (call_id, tracker_id) REFERENCES call_trackers (call_id, tracker_id) ON DELETE CASCADE,
  CONSTRAINT call_tracker_occurrences_start_nonnegative CHECK (start_time_ms >= 0)
);
CREATE INDEX call_tracker_occurrences_speaker_id_idx ON call_tracker_occurrences (speaker_id);

-- Gong's own interaction stats for a call, beside the metrics the service computes
-- (call_conversation_metrics): `stats` is Gong's interactionStats list as given ({name, value}),
-- `speakers` its per-speaker talk time resolved to our speakers.
CREATE TABLE call_gong_stats (
  call_id                   uuid PRIMARY KEY REFERENCES calls (id) ON DELETE CASCADE,
  stats                     jsonb NOT NULL DEFAULT '[]'::jsonb,
  questions_company         integer,
  questions_non_company     integer,
  speakers                  jsonb NOT NULL DEFAULT '[]'::jsonb,
  CONSTRAINT call_gong_stats_stats_array CHECK (jsonb_typeof(stats) = 'array'),
  CONSTRAINT call_gong_stats_speakers_array CHECK (jsonb_typeof(speakers) = 'array')
);

-- A party's job title, as Gong gives it.
ALTER TABLE speakers ADD COLUMN title text;
ALTER TABLE speakers ADD CONSTRAINT speakers_title_length CHECK (char_length(title) <= 200);
