/**
 * The Gong sync against a simulated Gong (support/gong-simulator.ts, built to Gong's published
 * API v2 document), through `npm run gong:sync`'s script as a child process, each test on a
 * scratch database of its own (runs, the daily budget and the one-running-run lock are global).
 */
import { sql } from 'slonik';
import { migrate } from '../db/migrate.js';
import { createDatabase, type Database } from '../db/pool.js';
import { expect, test, uniqueEmail, uniqueGongId } from './support/fixtures.js';
import { simCall, startGongSimulator, type GongSimulator, type SimCall, type SimRequest } from './support/gong-simulator.js';
import { runSync, SIM_BASIC, SIM_BEARER, startSync } from './support/gong-sync-cli.js';
import { scratchDatabase } from './support/scratch-database.js';

const FROM = '2026-11-01T00:00:00Z';
const TO = '2026-11-08T00:00:00Z';

type Scratch = { url: string; db: Database; drop: () => Promise<void> };

test.describe('Gong sync', { tag: '@integration' }, () => {
  let scratch: Scratch;
  let sim: GongSimulator | undefined;

  test.beforeEach(async ({ db }) => {
    const database = await scratchDatabase(db);
    await migrate(database.url);
    const pool = await createDatabase({ url: database.url, maxConnections: 2, acquireTimeoutMs: 10_000, statementTimeoutMs: 30_000, connectTimeoutMs: 5_000 });
    scratch = { url: database.url, db: pool, drop: async () => { await pool.end(); await database.drop(); } };
  });

  test.afterEach(async () => {
    await sim?.close();
    sim = undefined;
    await scratch.drop();
  });

  const q = <T>(query: ReturnType<typeof sql.unsafe>) => scratch.db.pool.any(query) as Promise<readonly T[]>;

  /** Requests of `path` in arrival order. */
  const requestsTo = (path: string, log: SimRequest[] = sim!.log) => log.filter((entry) => entry.path === path);

  /** No more than `rate` requests arrived in any one second. */
  function expectWithinRate(log: SimRequest[], rate: number) {
    for (let i = 0; i + rate < log.length; i++) {
      expect(log[i + rate]!.at - log[i]!.at, `requests ${log[i]!.seq}..${log[i + rate]!.seq} arrived within one second`).toBeGreaterThanOrEqual(1000);
    }
  }

  test('imports exactly the non-private calls of the window with parties, transcripts and trackers; a second run changes nothing; a call turned private is removed', async () => {
    const email = uniqueEmail('simrep');
    const [a, b, c, d, e, f] = Array.from({ length: 6 }, () => uniqueGongId());
    const calls: SimCall[] = [
      simCall({ id: a!, started: '2026-11-02T10:00:00Z', repEmail: email, title: 'Acme discovery' }),
      simCall({ id: b!, started: '2026-11-03T10:00:00Z', repEmail: email, transcript: false }),
      simCall({ id: c!, started: '2026-11-04T10:00:00Z', repEmail: email, isPrivate: true }),
      simCall({ id: d!, started: '2026-10-31T23:59:59Z', repEmail: email }), // before the window
      simCall({ id: e!, started: TO, repEmail: email }), // `to` is exclusive
      simCall({ id: f!, started: '2026-11-07T23:00:00Z', repEmail: email }),
    ];
    sim = await startGongSimulator({ calls, pageSize: 2, basic: SIM_BASIC });

    const first = await runSync({ databaseUrl: scratch.url, sim, from: FROM, to: TO });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain('completed run');
    expect(first.run).toMatchObject({
      status: 'completed',
      trigger: 'cli',
      counts: { pages: 2, calls_seen: 4, created: 3, updated: 0, unchanged: 0, private_skipped: 1, private_removed: 0, transcripts_ingested: 2, rate_limited: 0 },
    });
    expect(first.run!.counts.requests).toBe(sim.log.length);
    // Every request authenticated with Basic and filtered to the window; transcripts asked for the page's public calls.
    expect(sim.log.every((entry) => entry.auth === 'basic' && entry.status === 200)).toBe(true);
    expect(requestsTo('/v2/calls/extensive').map((entry) => entry.filter)).toEqual([
      { fromDateTime: '2026-11-01T00:00:00+00:00', toDateTime: '2026-11-08T00:00:00+00:00' },
      { fromDateTime: '2026-11-01T00:00:00+00:00', toDateTime: '2026-11-08T00:00:00+00:00' },
    ]);
    expect(requestsTo('/v2/calls/transcript').map((entry) => entry.filter?.callIds)).toEqual([[a, b], [f]]);

    const stored = await q<{ gong_call_id: string }>(sql.unsafe`SELECT gong_call_id FROM calls ORDER BY scheduled_at`);
    expect(stored.map((row) => row.gong_call_id)).toEqual([a, b, f]);

    const speakers = await q<Record<string, unknown>>(sql.unsafe`
      -- talk: the service's own talk time, computed from the ingested transcript
      SELECT sp.name, sp.email, sp.company_side, sp.gong_speaker_id, sp.title, sp.talk_time_seconds::float8 AS talk
      FROM speakers sp JOIN calls c ON c.id = sp.call_id WHERE c.gong_call_id = ${a!} ORDER BY sp.added_order`);
    const [repSpeaker, buyerSpeaker] = calls[0]!.parties;
    expect(speakers).toEqual([
      { name: 'Sim Rep', email, company_side: true, gong_speaker_id: repSpeaker!.speakerId, title: 'Enterprise Account Executive', talk: 9.4 },
      { name: 'Sim Buyer', email: buyerSpeaker!.emailAddress, company_side: false, gong_speaker_id: buyerSpeaker!.speakerId, title: 'VP Engineering', talk: 11 },
    ]);

    const segments = await q<{ gong_call_id: string; n: number }>(sql.unsafe`
      SELECT c.gong_call_id, count(t.id)::int AS n FROM calls c LEFT JOIN transcripts t ON t.call_id = c.id
      GROUP BY c.gong_call_id ORDER BY min(c.scheduled_at)`);
    expect(segments).toEqual([{ gong_call_id: a, n: 3 }, { gong_call_id: b, n: 0 }, { gong_call_id: f, n: 3 }]);

    const trackers = await q<Record<string, unknown>>(sql.unsafe`
      SELECT t.name, t.type, ct.count, coalesce(json_agg(json_build_object('ms', o.start_time_ms, 'speaker', sp.name) ORDER BY o.ordinal)
                                               FILTER (WHERE o.ordinal IS NOT NULL), '[]') AS occurrences
      FROM call_trackers ct JOIN gong_trackers t ON t.id = ct.tracker_id JOIN calls c ON c.id = ct.call_id
      LEFT JOIN call_tracker_occurrences o ON o.call_id = ct.call_id AND o.tracker_id = ct.tracker_id
      LEFT JOIN speakers sp ON sp.id = o.speaker_id
      WHERE c.gong_call_id = ${a!} GROUP BY t.name, t.type, ct.count ORDER BY t.name`);
    expect(trackers).toEqual([
      { name: 'Competitors', type: 'KEYWORD', count: 2, occurrences: [{ ms: 12500, speaker: 'Sim Buyer' }, { ms: 40250, speaker: 'Sim Rep' }] },
      { name: 'Pricing', type: 'SMART', count: 0, occurrences: [] },
    ]);
    const stats = await q<Record<string, unknown>>(sql.unsafe`
      SELECT g.stats, g.questions_company, g.questions_non_company, jsonb_array_length(g.speakers) AS speakers
      FROM call_gong_stats g JOIN calls c ON c.id = g.call_id WHERE c.gong_call_id = ${a!}`);
    expect(stats).toEqual([{ stats: calls[0]!.interaction.interactionStats, questions_company: 1, questions_non_company: 0, speakers: 2 }]);

    // The same window again: nothing written (no row version changes anywhere).
    const versions = () =>
      q<{ v: string }>(sql.unsafe`
        SELECT string_agg(tbl || ':' || xmin::text, ',' ORDER BY tbl, xmin::text) AS v FROM (
          SELECT 'calls' AS tbl, xmin FROM calls UNION ALL SELECT 'speakers', xmin FROM speakers
          UNION ALL SELECT 'transcripts', xmin FROM transcripts UNION ALL SELECT 'call_trackers', xmin FROM call_trackers
          UNION ALL SELECT 'occurrences', xmin FROM call_tracker_occurrences UNION ALL SELECT 'gong_trackers', xmin FROM gong_trackers
          UNION ALL SELECT 'stats', xmin FROM call_gong_stats UNION ALL SELECT 'state', xmin FROM gong_call_sync_state) rows`);
    const before = await versions();
    const logBefore = sim.log.length;
    const second = await runSync({ databaseUrl: scratch.url, sim, from: FROM, to: TO });
    expect(second.code, second.stderr).toBe(0);
    expect(second.run!.counts).toMatchObject({ pages: 2, calls_seen: 4, created: 0, updated: 0, unchanged: 3, private_skipped: 1, transcripts_ingested: 0 });
    expect(await versions()).toEqual(before);
    // Only the call still without a transcript is asked for one.
    expect(requestsTo('/v2/calls/transcript', sim.log.slice(logBefore)).map((entry) => entry.filter?.callIds)).toEqual([[b]]);

    // Gong marks call a private: the next sync removes it (with its speakers, transcript and trackers).
    calls[0]!.metaData.isPrivate = true;
    const third = await runSync({ databaseUrl: scratch.url, sim, from: FROM, to: TO });
    expect(third.code, third.stderr).toBe(0);
    expect(third.run!.counts).toMatchObject({ private_skipped: 2, private_removed: 1, created: 0, updated: 0 });
    const left = await q<{ gong_call_id: string }>(sql.unsafe`SELECT gong_call_id FROM calls ORDER BY scheduled_at`);
    expect(left.map((row) => row.gong_call_id)).toEqual([b, f]);
    expect(await q(sql.unsafe`SELECT 1 FROM call_trackers ct WHERE NOT EXISTS (SELECT 1 FROM calls c WHERE c.id = ct.call_id)`)).toEqual([]);
  });

  test('stays within 3 requests per second, waits out Retry-After exactly and retries a 5xx', async () => {
    const email = uniqueEmail('simrep');
    const calls = Array.from({ length: 4 }, (_, i) => simCall({ id: uniqueGongId(), started: `2026-11-0${i + 2}T09:00:00Z`, repEmail: email }));
    sim = await startGongSimulator({
      calls,
      pageSize: 1,
      basic: SIM_BASIC,
      faults: [
        { path: '/v2/calls/extensive', nth: 2, status: 429, retryAfter: 2 },
        { path: '/v2/calls/transcript', nth: 3, status: 503 },
      ],
    });
    const result = await runSync({ databaseUrl: scratch.url, sim, from: FROM, to: TO });
    expect(result.code, result.stderr).toBe(0);
    const log = sim.log;
    // 4 pages, 4 transcript batches, one repeat after the 429 and one after the 503.
    expect(log).toHaveLength(10);
    expect(result.run!.counts).toMatchObject({ pages: 4, created: 4, transcripts_ingested: 4, requests: 10, rate_limited: 1, retries: 2 });
    expectWithinRate(log, 3);
    // The simulator's own limiter never had to refuse anything: only the injected 429.
    expect(log.filter((entry) => entry.status === 429)).toHaveLength(1);

    const limited = log.findIndex((entry) => entry.status === 429);
    const after = log[limited + 1]!;
    expect(after.path).toBe('/v2/calls/extensive');
    expect(after.cursor).toBe(log[limited]!.cursor);
    const waited = after.at - log[limited]!.at;
    expect(waited).toBeGreaterThanOrEqual(2000);
    expect(waited, 'waited the Retry-After, not a backoff on top of it').toBeLessThan(3000);

    const failed = log.findIndex((entry) => entry.status === 503);
    expect(log[failed + 1]).toMatchObject({ path: '/v2/calls/transcript', status: 200, filter: log[failed]!.filter });
  });

  test('a call whose scheduled time lies past 9999 in UTC is stored at its start time (the whole run failed reading it back as year 10000)', async () => {
    const email = uniqueEmail('simrep');
    const id = uniqueGongId();
    const call = simCall({ id, started: '2026-11-02T10:00:00Z', repEmail: email });
    // Valid RFC 3339 text, but 10000-01-01T04:00:00Z in UTC: PostgreSQL stores it, no answer can state it.
    call.metaData.scheduled = '9999-12-31T23:00:00-05:00';
    sim = await startGongSimulator({ calls: [call], basic: SIM_BASIC });
    const result = await runSync({ databaseUrl: scratch.url, sim, from: FROM, to: TO });
    expect(result.code, result.stderr).toBe(0);
    expect(result.run).toMatchObject({ status: 'completed', counts: { calls_seen: 1, created: 1 } });
    const stored = await q<{ scheduled_at: string }>(sql.unsafe`SELECT to_char(scheduled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') AS scheduled_at FROM calls WHERE gong_call_id = ${id}`);
    expect(stored.map((row) => row.scheduled_at)).toEqual(['2026-11-02T10:00:00']);
  });

  test('NUL characters and lone surrogates in Gong\'s text are dropped (NUL) or made U+FFFD, not the end of every run on that call', async () => {
    const email = uniqueEmail('simrep');
    const id = uniqueGongId();
    const call = simCall({ id, started: '2026-11-02T10:00:00Z', repEmail: email, title: 'Acme\u0000 discovery \ud800' });
    call.parties[1]!.name = 'Dan\u0000 Ortiz';
    sim = await startGongSimulator({ calls: [call], basic: SIM_BASIC });
    const result = await runSync({ databaseUrl: scratch.url, sim, from: FROM, to: TO });
    expect(result.code, result.stderr).toBe(0);
    expect(result.run).toMatchObject({ status: 'completed', counts: { calls_seen: 1, created: 1, transcripts_ingested: 1 } });
    const [stored] = await q<{ title: string; names: string[] }>(
      sql.unsafe`SELECT c.title, array_agg(s.name ORDER BY s.name) AS names FROM calls c JOIN speakers s ON s.call_id = c.id WHERE c.gong_call_id = ${id} GROUP BY c.title`,
    );
    expect(stored).toEqual({ title: 'Acme discovery \ufffd', names: expect.arrayContaining(['Dan Ortiz']) });
  });

  test('a Gong sentence that ends before it starts is stored ending where it starts, not the end of every run on that call', async () => {
    const email = uniqueEmail('simrep');
    const id = uniqueGongId();
    const call = simCall({ id, started: '2026-11-02T10:00:00Z', repEmail: email });
    call.transcript![0]!.sentences[0] = { start: 5000, end: 10, text: 'Thanks for joining.' };
    sim = await startGongSimulator({ calls: [call], basic: SIM_BASIC });
    const result = await runSync({ databaseUrl: scratch.url, sim, from: FROM, to: TO });
    expect(result.code, result.stderr).toBe(0);
    expect(result.run).toMatchObject({ status: 'completed', counts: { calls_seen: 1, created: 1, transcripts_ingested: 1 } });
    const rows = await q<{ start_time_ms: string; end_time_ms: string }>(
      sql.unsafe`SELECT t.start_time_ms, t.end_time_ms FROM transcripts t JOIN calls c ON c.id = t.call_id WHERE c.gong_call_id = ${id} AND t.text = 'Thanks for joining.'`,
    );
    expect(rows.map((row) => [Number(row.start_time_ms), Number(row.end_time_ms)])).toEqual([[5000, 5000]]);
  });

  test('a run failed by the store says so in the API\'s words, never PostgreSQL\'s; the CLI (and the service log) keep the cause', async () => {
    const call = simCall({ id: uniqueGongId(), started: '2026-11-02T10:00:00Z', repEmail: uniqueEmail('simrep') });
    // A fault of the store itself (this test's scratch database only): every transcript insert raises.
    await scratch.db.pool.query(sql.unsafe`
      CREATE FUNCTION refuse_transcripts() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'internal: table transcripts_secret_shard is read-only'; END $$`);
    await scratch.db.pool.query(sql.unsafe`CREATE TRIGGER refuse_transcripts BEFORE INSERT ON transcripts FOR EACH ROW EXECUTE FUNCTION refuse_transcripts()`);
    sim = await startGongSimulator({ calls: [call], basic: SIM_BASIC });
    const result = await runSync({ databaseUrl: scratch.url, sim, from: FROM, to: TO });
    expect(result.code).toBe(1);
    expect(result.run).toMatchObject({ status: 'failed' });
    expect(result.run!.error).toBe('The run failed on an unexpected error; the service log has its cause (the "gong sync: run failed" line).');
    expect(result.stderr).toContain('transcripts_secret_shard');
  });

  test('Bearer auth; an empty window (Gong answers 404) completes with nothing to do', async () => {
    sim = await startGongSimulator({ calls: [simCall({ id: uniqueGongId(), started: '2026-12-05T10:00:00Z', repEmail: uniqueEmail('x') })], bearer: SIM_BEARER });
    const result = await runSync({ databaseUrl: scratch.url, sim, from: FROM, to: TO, env: { GONG_ACCESS_TOKEN: SIM_BEARER } });
    expect(result.code, result.stderr).toBe(0);
    expect(sim.log.map((entry) => [entry.path, entry.auth, entry.status])).toEqual([['/v2/calls/extensive', 'bearer', 404]]);
    expect(result.run).toMatchObject({ status: 'completed', counts: { pages: 1, calls_seen: 0, created: 0, requests: 1 } });
  });

  test('refused credentials fail the run with the reason and exit 1', async () => {
    sim = await startGongSimulator({ calls: [], basic: SIM_BASIC });
    const result = await runSync({ databaseUrl: scratch.url, sim, from: FROM, to: TO, env: { GONG_ACCESS_KEY_SECRET: 'wrong-secret' } });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/failed: .*Gong answered 401 .*GONG_ACCESS_KEY/);
    expect(result.run).toMatchObject({ status: 'failed', error: expect.stringContaining('401') });
    expect(sim.log).toHaveLength(1);
  });

  test('a sync killed mid-run resumes from its checkpoint without fetching finished pages again', async () => {
    const email = uniqueEmail('simrep');
    const calls = Array.from({ length: 5 }, (_, i) => simCall({ id: uniqueGongId(), started: `2026-11-0${i + 2}T09:00:00Z`, repEmail: email, transcript: i % 2 === 0 }));
    let killAt: SimRequest | null = null;
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const first = { process: null as ReturnType<typeof startSync> | null };
    sim = await startGongSimulator({
      calls,
      pageSize: 1,
      basic: SIM_BASIC,
      // The third page's request: kill the sync while Gong is answering it.
      hold: async (entry) => {
        if (killAt === null && entry.path === '/v2/calls/extensive' && requestsTo('/v2/calls/extensive').length === 3) {
          killAt = entry;
          first.process!.child.kill('SIGKILL');
          await held;
        }
      },
    });
    first.process = startSync({ databaseUrl: scratch.url, sim, from: FROM, to: TO });
    const killed = await first.process.done;
    release();
    expect(killed.signal).toBe('SIGKILL');
    const killedAfter = sim.log.length;
    const finishedPages = requestsTo('/v2/calls/extensive').slice(0, 2).map((entry) => entry.cursor);
    expect(finishedPages[0]).toBeNull();

    const [checkpointed] = await q<{ status: string; cursor: string; pages: number }>(sql.unsafe`SELECT status, cursor, pages FROM gong_sync_runs`);
    expect(checkpointed).toEqual({ status: 'running', cursor: killAt!.cursor, pages: 2 });

    const second = await runSync({ databaseUrl: scratch.url, sim, from: FROM, to: TO });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain('resuming run');
    const resumedPages = requestsTo('/v2/calls/extensive', sim.log.slice(killedAfter)).map((entry) => entry.cursor);
    expect(resumedPages[0]).toBe(killAt!.cursor);
    expect(resumedPages).toHaveLength(3);
    for (const cursor of finishedPages) expect(resumedPages).not.toContain(cursor);
    expect(second.run).toMatchObject({ status: 'completed', counts: { pages: 5, created: 5, transcripts_ingested: 3 } });
    expect(await q(sql.unsafe`SELECT gong_call_id FROM calls`)).toHaveLength(5);
  });

  test('the daily budget stops a run cleanly; the next day it resumes where it stopped', async () => {
    const email = uniqueEmail('simrep');
    const calls = Array.from({ length: 3 }, (_, i) => simCall({ id: uniqueGongId(), started: `2026-11-0${i + 2}T09:00:00Z`, repEmail: email }));
    sim = await startGongSimulator({ calls, pageSize: 1, basic: SIM_BASIC });
    // Two requests left today: the first page and its transcripts.
    await scratch.db.pool.query(sql.unsafe`INSERT INTO gong_api_usage (day, requests) VALUES ((now() AT TIME ZONE 'UTC')::date, 9998)`);
    const paused = await runSync({ databaseUrl: scratch.url, sim, from: FROM, to: TO });
    expect(paused.code).toBe(1);
    expect(paused.stderr).toMatch(/daily budget of 10000 Gong requests is spent/);
    expect(sim.log).toHaveLength(2);
    expect(paused.run).toMatchObject({ status: 'queued', counts: { pages: 1, created: 1, requests: 2 } });
    expect(Date.parse(paused.run!.resume_after)).toBeGreaterThan(Date.now());

    // Run again the same day: still paused, and Gong is not asked.
    const again = await runSync({ databaseUrl: scratch.url, sim, from: FROM, to: TO });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('paused until');
    expect(sim.log).toHaveLength(2);

    // The next day: yesterday's count no longer applies and the pause is over.
    await scratch.db.pool.query(sql.unsafe`UPDATE gong_api_usage SET day = day - 1`);
    await scratch.db.pool.query(sql.unsafe`UPDATE gong_sync_runs SET resume_after = now()`);
    const resumed = await runSync({ databaseUrl: scratch.url, sim, from: FROM, to: TO });
    expect(resumed.code, resumed.stderr).toBe(0);
    const pages = requestsTo('/v2/calls/extensive').map((entry) => entry.cursor);
    expect(pages).toHaveLength(3);
    expect(pages[1]).not.toBeNull();
    expect(resumed.run).toMatchObject({ status: 'completed', counts: { pages: 3, created: 3 } });
    // Three pages and three transcript batches; a request sent again (a 429 when a loaded machine
    // bunches the paced requests) is counted on top, as `retries`.
    expect(resumed.run!.counts.requests - resumed.run!.counts.retries).toBe(6);
  });

  test('two sync processes never run at once: the second waits for the first', async () => {
    const email = uniqueEmail('simrep');
    const calls = Array.from({ length: 6 }, (_, i) => simCall({ id: uniqueGongId(), started: `2026-11-0${i + 2}T09:00:00Z`, repEmail: email, transcript: false }));
    sim = await startGongSimulator({ calls, pageSize: 1, basic: SIM_BASIC });
    const early = startSync({ databaseUrl: scratch.url, sim, from: FROM, to: '2026-11-05T00:00:00Z' });
    const late = startSync({ databaseUrl: scratch.url, sim, from: '2026-11-05T00:00:00Z', to: TO });
    const [one, two] = await Promise.all([early.done, late.done]);
    expect(one.code, one.stderr).toBe(0);
    expect(two.code, two.stderr).toBe(0);
    expect(`${one.stderr}${two.stderr}`).toContain('waiting: another sync run is active');
    // Requests of one window all come before those of the other.
    const windows = sim.log.map((entry) => entry.filter?.toDateTime ?? 'transcript');
    const order = windows.filter((w) => w !== 'transcript');
    const firstWindow = order[0];
    const switchAt = order.findIndex((w) => w !== firstWindow);
    expect(switchAt).toBeGreaterThan(0);
    expect(order.slice(switchAt).every((w) => w !== firstWindow)).toBe(true);
    expect(await q(sql.unsafe`SELECT 1 FROM calls`)).toHaveLength(6);
  });
});

test.describe('the simulated Gong itself', () => {
  test('refuses a fourth request inside one second with 429 and Retry-After, as Gong documents', async () => {
    const sim = await startGongSimulator({ calls: [], basic: SIM_BASIC });
    try {
      const auth = `Basic ${Buffer.from(`${SIM_BASIC.accessKey}:${SIM_BASIC.accessKeySecret}`).toString('base64')}`;
      const send = () =>
        fetch(`${sim.url}/v2/calls/extensive`, {
          method: 'POST',
          headers: { Authorization: auth, 'Content-Type': 'application/json' },
          body: JSON.stringify({ filter: { fromDateTime: FROM, toDateTime: TO } }),
        });
      // Four at once: whichever arrives fourth is refused.
      const answers = await Promise.all([send(), send(), send(), send()]);
      const refused = answers.filter((answer) => answer.status === 429);
      expect(answers.map((answer) => answer.status).sort()).toEqual([404, 404, 404, 429]);
      expect(refused[0]!.headers.get('Retry-After')).toBe('1');
      expect(await refused[0]!.json()).toMatchObject({ errors: ['API request limit exceeded'] });
      // An empty window: Gong's documented 404 with its error body.
      expect(await answers.find((answer) => answer.status === 404)!.json()).toMatchObject({ errors: ['No calls found corresponding to the provided filters'] });
    } finally {
      await sim.close();
    }
  });
});
