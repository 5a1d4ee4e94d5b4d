-- People across calls (reps, matched by email), Gong speaker ids that join speakers to
-- transcript sentences, analyses linked to the rep, and indexes for listing and title search.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

ALTER TABLE speakers ADD COLUMN gong_speaker_id text;
ALTER TABLE speakers
  ADD CONSTRAINT speakers_call_id_gong_speaker_id_key UNIQUE (call_id, gong_speaker_id);
ALTER TABLE transcripts ADD COLUMN gong_speaker_id text;

CREATE TABLE reps (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email      text NOT NULL,
  name       text NOT NULL,
  role       text NOT NULL DEFAULT 'ae',
  manager_id uuid REFERENCES reps (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT reps_email_lowercase CHECK (email = lower(email)),
  CONSTRAINT reps_role_known CHECK (role IN ('ae', 'se', 'csm', 'support', 'manager')),
  CONSTRAINT reps_not_own_manager CHECK (manager_id <> id)
);
CREATE UNIQUE INDEX reps_email_key ON reps (email);
CREATE INDEX reps_role_email_idx ON reps (role, email);
CREATE INDEX reps_name_trgm_idx ON reps USING gin (name gin_trgm_ops);

CREATE TRIGGER reps_set_updated_at
  BEFORE UPDATE ON reps
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Every company-side speaker with an email is a rep: whichever path stores the speaker.
CREATE FUNCTION ensure_rep_for_speaker() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO reps (email, name, role)
  VALUES (
    lower(NEW.email),
    NEW.name,
    CASE WHEN NEW.role IN ('ae', 'se', 'csm', 'support', 'manager') THEN NEW.role ELSE 'ae' END)
  ON CONFLICT (email) DO NOTHING;
  RETURN NEW;
END;
$$;

CREATE TRIGGER speakers_ensure_rep
  AFTER INSERT OR UPDATE OF email, company_side ON speakers
  FOR EACH ROW WHEN (NEW.company_side AND NEW.email IS NOT NULL)
  EXECUTE FUNCTION ensure_rep_for_speaker();

INSERT INTO reps (email, name, role)
SELECT DISTINCT ON (lower(email))
  lower(email), name,
  CASE WHEN role IN ('ae', 'se', 'csm', 'support', 'manager') THEN role ELSE 'ae' END
FROM speakers
WHERE company_side AND email IS NOT NULL
ORDER BY lower(email), created_at DESC
ON CONFLICT (email) DO NOTHING;

ALTER TABLE analyses ADD COLUMN rep_id uuid REFERENCES reps (id) ON DELETE SET NULL;
UPDATE analyses a SET rep_id = r.id FROM reps r WHERE r.email = lower(a.rep_email);
CREATE INDEX analyses_rep_id_created_at_idx ON analyses (rep_id, created_at DESC, id DESC);
DROP INDEX analyses_call_id_idx;
CREATE INDEX analyses_call_id_created_at_idx ON analyses (call_id, created_at DESC, id DESC);

-- Listing: filters with the keyset order, and word search in titles.
CREATE INDEX calls_call_type_scheduled_at_idx ON calls (call_type, scheduled_at DESC, id DESC);
DROP INDEX calls_product_scheduled_at_idx;
CREATE INDEX calls_product_scheduled_at_idx ON calls (product, scheduled_at DESC, id DESC);
CREATE INDEX calls_title_trgm_idx ON calls USING gin (title gin_trgm_ops);
