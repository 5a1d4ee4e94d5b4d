-- Request counts per client and fixed window, shared by every replica (server/rate-limit.ts).
-- UNLOGGED: no WAL for a row written on (nearly) every request; after a crash PostgreSQL empties
-- the table, which only gives every client a fresh window.
CREATE UNLOGGED TABLE rate_limit_counters (
  -- "sub:<token sub>" or "ip:<client address>"
  key text PRIMARY KEY,
  window_start timestamptz NOT NULL,
  hits integer NOT NULL CHECK (hits >= 0)
);
