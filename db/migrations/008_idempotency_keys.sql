-- Idempotency keys (draft-ietf-httpapi-idempotency-key-header) for the POSTs that create.
--
-- A row is the first answer to a request carrying the key, stored in the same transaction as
-- what the request created: it exists exactly when the creation committed, so a request that
-- failed leaves no key behind, and every replica sees every key. Keys belong to the token's
-- `sub` (two clients may pick the same key). The fingerprint (SHA-256 of method, path and body)
-- tells a retry from a different request reusing the key.
--
-- Kept at least 24 hours: an expired row counts as absent (a new request with its key replaces
-- it), and each keyed request deletes a few expired rows, so the table stays as small as a day
-- of keyed requests without a scheduled job.

CREATE TABLE idempotency_keys (
  principal       text NOT NULL,
  key             text NOT NULL,
  fingerprint     text NOT NULL,
  request_method  text NOT NULL,
  request_path    text NOT NULL,
  response_status smallint NOT NULL,
  response_location text,
  response_body   text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL DEFAULT now() + interval '24 hours',
  PRIMARY KEY (principal, key),
  CONSTRAINT idempotency_keys_key_length CHECK (length(key) BETWEEN 1 AND 255),
  CONSTRAINT idempotency_keys_kept_a_day CHECK (expires_at >= created_at + interval '24 hours')
);

CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at);
