-- One person once per call, whatever the case of their email: speakers_call_id_email_key compares
-- emails as written, so `Sarah@x.com` and `sarah@x.com` were two speakers of one call (one rep,
-- as reps match by lower(email)), and the next upsert by email then failed on that very key (a
-- 409 for every later sync of the call). Emails match case-insensitively everywhere else
-- (analyses, reps, upserts), so uniqueness does too. A database already holding such a pair
-- refuses this index, naming the call and email: merge the two speakers by hand, then migrate.
-- (The case-sensitive constraint stays: it is the index plans of "speakers of a call" use.)
CREATE UNIQUE INDEX speakers_call_id_lower_email_key ON speakers (call_id, lower(email));
