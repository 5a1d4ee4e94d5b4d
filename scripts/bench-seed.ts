/**
 * Seeds a migrated, empty database for `npm run bench` with set-based SQL (generate_series,
 * INSERT … SELECT): `calls` calls with 2–4 speakers each (1–2 company-side reps drawn from a
 * pool of 200, 1–2 customer-side people) and `segments` transcript segments spread evenly over
 * the first `transcriptCalls` calls (by gong_call_id). Segment text (6–20 words) is drawn from a
 * vocabulary ordered from frequent to less frequent words (a cubic bias towards the head), and one
 * segment in 300 also gets one of RARE_WORDS, so full-text search has common terms (in 5–15% of
 * segments) and selective ones (about 110 segments per rare word on 1M).
 * A `bench_seed` table records the sizes, so a persistent database is seeded only once.
 */
import pg from 'pg';

export type SeedSize = { calls: number; segments: number; transcriptCalls: number };

/** The Gong call ids the seed gives (1 followed by 12 digits); the bench's own calls never match. */
export const SEEDED_GONG_CALL_ID = '^1[0-9]{12}$';

/** Frequent first, less frequent last: the index is drawn with a cubic bias towards the head. */
export const VOCABULARY = [
  // very common (stop words are part of real speech; the English parser drops them)
  'we', 'you', 'the', 'that', 'team', 'so', 'it', 'and', 'yeah', 'think', 'just', 'our', 'know', 'right',
  'data', 'really', 'like', 'can', 'need', 'pipeline', 'customers', 'time', 'work', 'today', 'process',
  'use', 'question', 'platform', 'make', 'good', 'look', 'great', 'week', 'part', 'sure', 'help',
  // common business words
  'pricing', 'budget', 'timeline', 'integration', 'workflow', 'dashboard', 'report', 'security',
  'contract', 'renewal', 'onboarding', 'support', 'migration', 'schedule', 'deployment', 'users',
  'licenses', 'quarter', 'forecast', 'demo', 'trial', 'feedback', 'roadmap', 'feature', 'issue',
  'decision', 'stakeholder', 'approval', 'procurement', 'legal', 'discount', 'proposal', 'value',
  'priority', 'requirements', 'challenge', 'goal', 'metric', 'adoption', 'training', 'rollout',
  'scalability', 'performance', 'latency', 'reliability', 'uptime', 'monitoring', 'alerting',
  'warehouse', 'orchestration', 'retries', 'backfill', 'scheduler', 'agents', 'cloud', 'hybrid',
  'python', 'notebooks', 'observability', 'lineage', 'governance', 'compliance', 'audit',
  'champion', 'economic', 'buyer', 'competitor', 'airflow', 'dagster', 'cron', 'kubernetes',
  'terraform', 'snowflake', 'databricks', 'bigquery', 'redshift', 'postgres', 'kafka', 'spark',
  'dbt', 'fivetran', 'looker', 'tableau', 'salesforce', 'hubspot', 'slack', 'jira', 'okta',
];

/** Selective words: one segment in 300 gets one of these (about 110 segments per word on 1M). */
export const RARE_WORDS = [
  'sso', 'saml', 'scim', 'soc2', 'hipaa', 'gdpr', 'fedramp', 'pentest', 'encryption', 'residency',
  'multitenant', 'sandbox', 'invoice', 'netsuite', 'sharepoint', 'mainframe', 'cobol', 'fortran',
  'quantum', 'blockchain', 'geospatial', 'lidar', 'genomics', 'actuarial', 'reinsurance', 'telemetry',
  'firmware', 'satellite', 'hydrology', 'petabyte', 'exabyte', 'zettabyte',
];

/**
 * A session of the bench's own upkeep (seeding, restoring the seeded state): without a statement
 * timeout. The role's default one (session-defaults.ts, set by the service at start) bounds
 * requests; deleting the calls an earlier run's POSTs created (100,000s, each cascading to its
 * speakers and segments) takes longer than that.
 */
export function maintenanceSession(url: string): pg.ClientConfig {
  return { connectionString: url, application_name: 'call-coach-bench-seed', options: '-c statement_timeout=0' };
}

export async function seedDatabase(url: string, size: SeedSize, log: (line: string) => void): Promise<void> {
  const client = new pg.Client(maintenanceSession(url));
  await client.connect();
  const step = async (label: string, text: string, values: unknown[] = []) => {
    const started = performance.now();
    const result = await client.query(text, values);
    log(`  ${label}: ${result.rowCount ?? 0} rows, ${Math.round(performance.now() - started)} ms`);
  };
  try {
    await client.query(`SET synchronous_commit = off`);
    await client.query(`SET maintenance_work_mem = '256MB'`);
    await client.query(`SET work_mem = '64MB'`);
    await client.query('BEGIN');
    // The trigger would upsert a rep per company-side speaker (150k times); the seed inserts the
    // 200 reps itself, exactly as the trigger would have.
    await client.query('ALTER TABLE speakers DISABLE TRIGGER speakers_ensure_rep');
    await step('reps', `
      INSERT INTO reps (email, name, role)
      SELECT lower(f || '.' || l) || '@example.com', f || ' ' || l,
             (ARRAY['ae','ae','ae','se','csm'])[1 + (fi * 10 + li) % 5]
      FROM unnest(ARRAY['Sarah','James','Priya','Marcus','Elena','David','Aisha','Tom','Mei','Carlos',
                        'Olivia','Noah','Fatima','Lucas','Hannah','Ravi','Chloe','Diego','Yuki','Ben'])
             WITH ORDINALITY AS fn(f, fi)
      CROSS JOIN unnest(ARRAY['Chen','Patel','Smith','Garcia','Kowalski','Nguyen','Okafor','Muller','Rossi','Kim'])
             WITH ORDINALITY AS ln(l, li)`);
    await step('calls', `
      INSERT INTO calls (gong_call_id, title, scheduled_at, duration_seconds, call_type, product, metadata, processed_at)
      SELECT (1000000000000 + g)::text,
             (ARRAY['Acme','Globex','Initech','Umbrella','Hooli','Stark','Wayne','Wonka','Tyrell','Cyberdyne',
                    'Soylent','Vandelay','Massive Dynamic','Oscorp','Aperture','Monarch','Gringotts','Pied Piper'])[1 + g % 18]
               || ' ' || (ARRAY['discovery','demo','pricing review','security review','technical deep dive',
                               'follow-up','onboarding kickoff','QBR','renewal'])[1 + (g / 18) % 9]
               || ' #' || g,
             now() - (g % 730) * interval '1 day' - (g % 1440) * interval '1 minute',
             600 + (g * 37) % 3000,
             (ARRAY['discovery','demo','negotiation','technical_deep_dive','follow_up','onboarding','qbr','renewal','other'])[1 + (g / 18) % 9],
             (ARRAY['prefect','prefect-cloud','marvin','controlflow','fastmcp'])[1 + g % 5],
             jsonb_build_object('direction', CASE WHEN g % 3 = 0 THEN 'Inbound' ELSE 'Outbound' END,
                                'scope', 'External', 'system', (ARRAY['Zoom','Google Meet','Teams'])[1 + g % 3]),
             CASE WHEN g % 4 = 0 THEN NULL ELSE now() - (g % 700) * interval '1 day' END
      FROM generate_series(1, $1::int) g`, [size.calls]);
    // Speaker k (1-based) of call g: k = 1 and, on half the calls, k = 2 are company-side reps;
    // the rest are customers. 2-4 speakers per call.
    await step('speakers', `
      WITH c AS (
        SELECT id, gong_call_id::bigint - 1000000000000 AS g FROM calls WHERE gong_call_id ~ '${SEEDED_GONG_CALL_ID}'
      ), reps_numbered AS (
        SELECT email, name, role, (row_number() OVER (ORDER BY email)) - 1 AS n FROM reps
      )
      INSERT INTO speakers (call_id, name, email, role, company_side, gong_speaker_id)
      SELECT c.id,
             CASE WHEN k <= 1 + c.g % 2 THEN r.name ELSE 'Customer ' || c.g || '-' || k END,
             CASE WHEN k <= 1 + c.g % 2 THEN r.email
                  ELSE 'buyer' || k || '.' || c.g || '@' ||
                       (ARRAY['acme','globex','initech','umbrella','hooli','stark'])[1 + c.g % 6] || '.com' END,
             CASE WHEN k <= 1 + c.g % 2 THEN r.role ELSE (ARRAY['prospect','customer'])[1 + k % 2] END,
             k <= 1 + c.g % 2,
             (7000000000000000000 + c.g * 10 + k)::text
      FROM c
      CROSS JOIN LATERAL generate_series(1, 2 + (c.g % 3)::int) k
      JOIN reps_numbered r ON r.n = (c.g * 7 + k * 13) % 200
      ORDER BY c.g, k`);
    await client.query('ALTER TABLE speakers ENABLE TRIGGER speakers_ensure_rep');
    await client.query('COMMIT');

    // Segments: `per` per call over the first transcriptCalls calls; sentence length 6–20 words.
    const per = Math.max(1, Math.floor(size.segments / size.transcriptCalls));
    await step('transcripts', `
      WITH tc AS (
        SELECT c.id, c.scheduled_at, array_agg(sp.id ORDER BY sp.added_order) AS speaker_ids,
               array_agg(sp.gong_speaker_id ORDER BY sp.added_order) AS gong_ids
        FROM (SELECT id, scheduled_at FROM calls WHERE gong_call_id ~ '${SEEDED_GONG_CALL_ID}' ORDER BY gong_call_id LIMIT $1) c
        JOIN speakers sp ON sp.call_id = c.id
        GROUP BY c.id, c.scheduled_at
      ), seg AS (
        SELECT tc.id AS call_id, tc.scheduled_at, n, tc.speaker_ids, tc.gong_ids,
               1 + (n / 3 + n / 7) % cardinality(tc.speaker_ids) AS who
        FROM tc CROSS JOIN generate_series(0, $2::int - 1) n
      )
      INSERT INTO transcripts (call_id, call_scheduled_at, sequence_number, speaker_id, gong_speaker_id, start_time_ms, end_time_ms, text, topics, chunk_metadata)
      SELECT seg.call_id, seg.scheduled_at, seg.n, seg.speaker_ids[seg.who], seg.gong_ids[seg.who],
             seg.n * 4500::bigint, seg.n * 4500::bigint + 1500 + (seg.n * 7919) % 2900,
             upper(left(w.sentence, 1)) || substr(w.sentence || r.rare, 2) || CASE WHEN seg.n % 5 = 0 THEN '?' ELSE '.' END,
             CASE WHEN seg.n % 10 = 0 THEN ARRAY['Pricing'] WHEN seg.n % 10 = 1 THEN ARRAY['Security'] ELSE '{}' END,
             '{}'::jsonb
      FROM seg
      CROSS JOIN LATERAL (
        SELECT string_agg(($3::text[])[1 + floor(cardinality($3::text[]) * power(random(), 3))::int], ' ') AS sentence
        FROM generate_series(1, 6 + (seg.n * 31 + length(seg.call_id::text)) % 15) i
        WHERE seg.n >= 0
      ) w
      CROSS JOIN LATERAL (
        SELECT CASE WHEN (seg.n * 7 + abs(hashtext(seg.call_id::text))) % 300 = 0
                    THEN ' ' || ($4::text[])[1 + (seg.n + abs(hashtext(seg.call_id::text))) % cardinality($4::text[])]
                    ELSE '' END AS rare
      ) r`, [size.transcriptCalls, per, VOCABULARY, RARE_WORDS]);
    await step('talk time', `
      UPDATE speakers sp
      SET talk_time_seconds = round(tt.talk_ms / 1000.0, 2), talk_time_percentage = tt.talk_percentage
      FROM call_speaker_talk_time(ARRAY(SELECT DISTINCT call_id FROM transcripts)) tt
      WHERE sp.id = tt.speaker_id`);
    await step('vacuum analyze', 'VACUUM ANALYZE'); // visibility map set, as on a settled database
    await client.query(`CREATE TABLE IF NOT EXISTS bench_seed (calls int NOT NULL, segments int NOT NULL, transcript_calls int NOT NULL)`);
    await client.query(`INSERT INTO bench_seed VALUES ($1, $2, $3)`, [size.calls, per * size.transcriptCalls, size.transcriptCalls]);
  } finally {
    await client.end();
  }
}

/** The sizes recorded by an earlier seed of this database, or null when it was never seeded. */
export async function seededSize(url: string): Promise<SeedSize | null> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const exists = await client.query(`SELECT to_regclass('bench_seed') IS NOT NULL AS e`);
    if (!exists.rows[0].e) return null;
    const { rows } = await client.query(`SELECT calls, segments, transcript_calls FROM bench_seed LIMIT 1`);
    return rows[0] ? { calls: rows[0].calls, segments: rows[0].segments, transcriptCalls: rows[0].transcript_calls } : null;
  } finally {
    await client.end();
  }
}
