-- Gong webhook deliveries in Gong's order (issue 12, item 10). A delivery signed with Gong's JWT
-- carries Gong's signing time (`iat`, covered by the signature). One older than a delivery already
-- applied to the same call is recorded as superseded and changes nothing, so a late or replayed
-- version of a call never overwrites a newer one.
ALTER TABLE webhook_events
  ADD COLUMN signed_at  timestamptz,
  ADD COLUMN superseded boolean NOT NULL DEFAULT false;

-- The newest applied signed delivery of a call, looked up on every delivery of it.
CREATE INDEX webhook_events_applied_signed_at_idx ON webhook_events (gong_call_id, signed_at)
  WHERE status = 'completed' AND NOT superseded AND signed_at IS NOT NULL;
