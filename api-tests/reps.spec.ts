import { randomUUID } from 'node:crypto';
import { createDatabase, type Database } from '../db/pool.js';
import { ApiClient, Cleanup, expect, newCall, sql, test, uniqueEmail } from './support/fixtures.js';
import { startOwnServer } from './support/own-server.js';
import { scratchDatabase } from './support/scratch-database.js';
import { signToken } from './support/tokens.js';

type Speaker = { name: string; email?: string; role: string; company_side: boolean; gong_speaker_id?: string };
type Ctx = { api: ApiClient; db: Database; cleanup: Cleanup; trackCall: (id: string) => void };

const UNKNOWN = '00000000-0000-4000-8000-000000000000';

/** Stores a call with these speakers (reps appear for the company-side ones) and cleans both up. */
async function storeCall(t: Ctx, speakers: Speaker[], overrides: Record<string, unknown> = {}) {
  const response = await t.api.post('/calls', newCall({ speakers, ...overrides }));
  expect(response.status()).toBe(201);
  const call = await response.json();
  t.trackCall(call.id);
  for (const speaker of speakers) {
    if (speaker.email) {
      const email = speaker.email.toLowerCase();
      t.cleanup.add(`delete rep ${email}`, () => t.db.pool.query(sql.unsafe`DELETE FROM reps WHERE email = ${email}`));
    }
  }
  return call as { id: string; title: string; speakers: { id: string; email: string | null }[] };
}

/** A rep (an `ae` unless told otherwise), created the way reps come to be: by speaking on a call. */
async function newRep(t: Ctx, options: { role?: string; name?: string; email?: string } = {}) {
  const email = options.email ?? uniqueEmail('rep');
  const call = await storeCall(t, [{ name: options.name ?? 'Rep', email, role: options.role ?? 'ae', company_side: true }]);
  const rep = await t.db.pool.one(sql.unsafe`SELECT id, email FROM reps WHERE email = ${email.toLowerCase()}`);
  return { id: rep.id as string, email: rep.email as string, callId: call.id, callTitle: call.title };
}

/** Stores an analysis of `email` on `callId` through the API and backdates it to `at`. */
async function seedAnalysis(
  t: Ctx,
  callId: string,
  email: string,
  at: string,
  scores: Record<string, number>,
  overall?: number,
): Promise<string> {
  const body = { rep_email: email, scores, analyst: 'coach', rubric_version: 'v1', ...(overall === undefined ? {} : { overall_score: overall }) };
  const response = await t.api.post(`/calls/${callId}/analyses`, body);
  expect(response.status()).toBe(201);
  const { id } = await response.json();
  await t.db.pool.query(sql.unsafe`UPDATE analyses SET created_at = ${at}::timestamptz WHERE id = ${id}`);
  return id as string;
}

/**
 * A service on a database of the test's own (nothing else in it), for what compares a rep with
 * every other rep: the team is then exactly the reps the test made, whatever other tests write.
 */
const alone = test.extend<{ own: Ctx }>({
  own: async ({ playwright, db }, use) => {
    const scratch = await scratchDatabase(db);
    const server = await startOwnServer({ database: { url: scratch.url } });
    const ownDb = await createDatabase({
      url: scratch.url, maxConnections: 2, acquireTimeoutMs: 5000, statementTimeoutMs: 10_000, connectTimeoutMs: 5000,
    });
    const context = await playwright.request.newContext({
      baseURL: server.baseURL,
      extraHTTPHeaders: { Accept: 'application/json, application/problem+json' },
    });
    try {
      // Dropping the database removes all the test stored: its cleanup steps need not run.
      await use({ api: new ApiClient(context, signToken()), db: ownDb, cleanup: new Cleanup(), trackCall: () => {} });
    } finally {
      await context.dispose();
      await ownDb.end();
      await server.stop();
      await scratch.drop();
    }
  },
});

function patch(api: ApiClient, path: string, data: unknown) {
  return api.fetch('PATCH', path, { data });
}

test.describe('reps API', { tag: '@integration' }, () => {
  test('storing a call creates a rep for each company-side speaker with an email, lowercased', async ({ api, db, cleanup, trackCall }) => {
    const t: Ctx = { api, db, cleanup, trackCall };
    const tag = randomUUID().slice(0, 8);
    const ae = `Sarah.${tag}@Example.com`;
    const se = `priya.${tag}@example.com`;
    const customer = `dan.${tag}@example.com`;
    await storeCall(t, [
      { name: 'Sarah Chen', email: ae, role: 'ae', company_side: true },
      { name: 'Priya Raman', email: se, role: 'se', company_side: true },
      { name: 'Dan Ortiz', email: customer, role: 'prospect', company_side: false },
      { name: 'No Email', role: 'csm', company_side: true },
    ]);
    const rows = await t.db.pool.any(sql.unsafe`
      SELECT email, name, role, manager_id FROM reps WHERE email LIKE ${`%.${tag}@example.com`} ORDER BY email`);
    expect(rows).toEqual([
      { email: se, name: 'Priya Raman', role: 'se', manager_id: null },
      { email: ae.toLowerCase(), name: 'Sarah Chen', role: 'ae', manager_id: null },
    ]);

    const listed = await (await t.api.get(`/reps?q=${tag}`)).json();
    expect(listed.data.map((r: { email: string }) => r.email)).toEqual([se, ae.toLowerCase()]);
    const id = listed.data[0].id;
    const one = await t.api.get(`/reps/${id}`);
    expect(one.status()).toBe(200);
    expect(await one.json()).toEqual(listed.data[0]);
  });

  test('GET /reps filters by role and by part of the name or email, literally, and pages by email', async ({ api, db, cleanup, trackCall }) => {
    const t: Ctx = { api, db, cleanup, trackCall };
    const tag = randomUUID().slice(0, 8);
    const a = await newRep(t, { email: `a.${tag}@example.com`, name: `Alex 100%_${tag}` });
    const b = await newRep(t, { email: `b.${tag}@example.com`, name: `Blair 100xx${tag}`, role: 'se' });
    const c = await newRep(t, { email: `c.${tag}@example.com`, name: 'Casey' });

    const ids = async (query: string) =>
      ((await (await t.api.get(`/reps?${query}`)).json()).data as { id: string }[]).map((r) => r.id);
    expect(await ids(`q=${tag}`)).toEqual([a.id, b.id, c.id]);
    expect(await ids(`q=${tag.toUpperCase()}&role=ae`)).toEqual([a.id, c.id]);
    expect(await ids(`q=${encodeURIComponent(`100%_${tag}`)}`)).toEqual([a.id]); // % and _ are not wildcards
    expect(await ids(`q=${encodeURIComponent(`alex 100%`)}&role=se`)).toEqual([]);

    const first = await (await t.api.get(`/reps?q=${tag}&limit=2`)).json();
    expect(first.data.map((r: { id: string }) => r.id)).toEqual([a.id, b.id]);
    expect(first.next_cursor).toEqual(expect.any(String));
    const second = await (await t.api.get(`/reps?q=${tag}&limit=2&cursor=${first.next_cursor}`)).json();
    expect(second.data.map((r: { id: string }) => r.id)).toEqual([c.id]);
    expect(second.next_cursor).toBeNull();

    expect((await t.api.get('/reps?role=pilot')).status()).toBe(400);
  });

  test('a rep token sees only their own record', async ({ api, db, cleanup, trackCall }) => {
    const t: Ctx = { api, db, cleanup, trackCall };
    const tag = randomUUID().slice(0, 8);
    const me = await newRep(t, { email: `me.${tag}@example.com` });
    const other = await newRep(t, { email: `other.${tag}@example.com` });
    const rep = t.api.as(signToken({ role: 'rep', email: me.email.toUpperCase() }));

    const listed = await (await rep.get(`/reps?q=${tag}`)).json();
    expect(listed.data.map((r: { id: string }) => r.id)).toEqual([me.id]);
    expect((await (await rep.get('/reps?limit=200')).json()).data.map((r: { id: string }) => r.id)).toEqual([me.id]);
    expect((await rep.get(`/reps/${me.id}`)).status()).toBe(200);
    expect((await rep.get(`/reps/${other.id}`)).status()).toBe(404);

    const manager = t.api.as(signToken({ role: 'manager', email: uniqueEmail('boss') }));
    expect((await manager.get(`/reps/${other.id}`)).status()).toBe(200);
    expect((await t.api.get(`/reps/${UNKNOWN}`)).status()).toBe(404);
  });

  test('PATCH changes name, role and manager; null unlinks the manager', async ({ api, db, cleanup, trackCall }) => {
    const t: Ctx = { api, db, cleanup, trackCall };
    const rep = await newRep(t);
    const boss = await newRep(t, { role: 'manager' });
    const response = await patch(t.api, `/reps/${rep.id}`, { name: 'Sarah C.', role: 'se', manager_id: boss.id });
    expect(response.status()).toBe(200);
    expect(await response.json()).toMatchObject({ id: rep.id, name: 'Sarah C.', role: 'se', manager_id: boss.id });
    expect(await t.db.pool.one(sql.unsafe`SELECT name, role, manager_id FROM reps WHERE id = ${rep.id}`)).toEqual({
      name: 'Sarah C.',
      role: 'se',
      manager_id: boss.id,
    });

    const unlinked = await patch(t.api, `/reps/${rep.id}`, { manager_id: null });
    expect(await unlinked.json()).toMatchObject({ name: 'Sarah C.', role: 'se', manager_id: null });
    expect(await t.db.pool.oneFirst(sql.unsafe`SELECT manager_id FROM reps WHERE id = ${rep.id}`)).toBeNull();
  });

  test('PATCH with an unknown manager or the rep itself as manager is a 400 and changes nothing', async ({ api, db, cleanup, trackCall }) => {
    const t: Ctx = { api, db, cleanup, trackCall };
    const rep = await newRep(t, { name: 'Unchanged' });
    for (const managerId of [UNKNOWN, rep.id]) {
      const response = await patch(t.api, `/reps/${rep.id}`, { name: 'Changed', manager_id: managerId });
      expect(response.status()).toBe(400);
      expect((await response.json()).errors).toEqual([{ location: 'body', path: '/manager_id', message: expect.any(String) }]);
    }
    expect(await t.db.pool.one(sql.unsafe`SELECT name, manager_id FROM reps WHERE id = ${rep.id}`)).toEqual({
      name: 'Unchanged',
      manager_id: null,
    });
    expect((await patch(t.api, `/reps/${rep.id}`, {})).status()).toBe(400);
    expect((await patch(t.api, `/reps/${UNKNOWN}`, { name: 'Nobody' })).status()).toBe(404);
  });

  for (const role of ['rep', 'manager', 'service'] as const) {
    test(`PATCH by a ${role} token is a 403`, async ({ api, db, cleanup, trackCall }) => {
    const t: Ctx = { api, db, cleanup, trackCall };
      const rep = await newRep(t, { name: 'Unchanged' });
      const response = await patch(t.api.as(signToken({ role, email: rep.email })), `/reps/${rep.id}`, { name: 'Changed' });
      expect(response.status()).toBe(403);
      expect(await t.db.pool.oneFirst(sql.unsafe`SELECT name FROM reps WHERE id = ${rep.id}`)).toBe('Unchanged');
    });
  }
});

test.describe('rep insights', { tag: '@integration' }, () => {
  // Each test writes analyses into its own window in the past that no other test writes into,
  // so a rep's own counts see only that test's data; team averages, which span every rep, are
  // tested on a database of their own (`alone`).

  test('counts, averages, trends, weekly series and recent wins over an explicit period', async ({ api, db, cleanup, trackCall }) => {
    const t: Ctx = { api, db, cleanup, trackCall };
    const rep = await newRep(t);
    const call2 = await storeCall(t, [{ name: 'Rep', email: rep.email, role: 'ae', company_side: true }]);
    const call3 = await storeCall(t, [{ name: 'Rep', email: rep.email, role: 'ae', company_side: true }]);
    // 2011-01-03 is a Monday.
    await seedAnalysis(t, rep.callId, rep.email, '2011-01-03T10:00:00Z', { discovery: 60, engagement: 70 }); // overall 65
    const a2 = await seedAnalysis(t, rep.callId, rep.email, '2011-01-05T10:00:00Z', { discovery: 64, engagement: 90 }, 85);
    await seedAnalysis(t, call2.id, rep.email, '2011-01-12T10:00:00Z', { discovery: 80, engagement: 72 }); // overall 76
    const a4 = await seedAnalysis(t, call3.id, rep.email, '2011-01-20T10:00:00Z', { discovery: 90, engagement: 74, objection_handling: 88 }, 88);
    // Outside [from, to): just before and exactly at the end.
    await seedAnalysis(t, call3.id, rep.email, '2010-12-31T23:59:59Z', { discovery: 0 }, 100);
    await seedAnalysis(t, call3.id, rep.email, '2011-02-01T00:00:00Z', { discovery: 0 }, 100);

    const response = await t.api.get(`/reps/${rep.id}/insights?from=2011-01-01T00:00:00Z&to=2011-02-01T00:00:00Z`);
    expect(response.status()).toBe(200);
    const insights = await response.json();
    expect(insights).toEqual({
      rep_id: rep.id,
      email: rep.email,
      period: { from: '2011-01-01T00:00:00+00:00', to: '2011-02-01T00:00:00+00:00' },
      analyses_count: 4,
      calls_analysed: 3,
      overall_average: 78.5, // (65 + 85 + 76 + 88) / 4
      dimensions: [
        // earlier half (60, 64) = 62, recent half (80, 90) = 85: +23
        { dimension: 'discovery', average: 73.5, earlier_average: 62, recent_average: 85, trend: 'improving' },
        // earlier (70, 90) = 80, recent (72, 74) = 73: −7
        { dimension: 'engagement', average: 76.5, earlier_average: 80, recent_average: 73, trend: 'declining' },
        { dimension: 'objection_handling', average: 88, earlier_average: null, recent_average: 88, trend: 'insufficient_data' },
      ],
      weekly: [
        { week_start: '2011-01-03', analyses: 2, overall_average: 75 },
        { week_start: '2011-01-10', analyses: 1, overall_average: 76 },
        { week_start: '2011-01-17', analyses: 1, overall_average: 88 },
      ],
      skill_gaps: [],
      recent_wins: [
        { analysis_id: a4, call_id: call3.id, call_title: call3.title, overall_score: 88, created_at: '2011-01-20T10:00:00+00:00' },
        { analysis_id: a2, call_id: rep.callId, call_title: rep.callTitle, overall_score: 85, created_at: '2011-01-05T10:00:00+00:00' },
      ],
      conversation_metrics: {
        calls_with_transcript: 0,
        talk_ratio: null,
        longest_monologue_seconds: null,
        interactivity: null,
        patience_seconds: null,
        question_rate_per_hour: null,
      },
    });
  });

  test('a stable trend within ±5 points, and wins capped at the five newest', async ({ api, db, cleanup, trackCall }) => {
    const t: Ctx = { api, db, cleanup, trackCall };
    const rep = await newRep(t);
    const ids: string[] = [];
    // discovery: earlier (70, 72, 71) = 71, recent (74, 75, 76, 77) … n = 7: earlier 3, recent 4.
    const scores = [70, 72, 71, 74, 75, 76, 77];
    for (const [i, score] of scores.entries()) {
      ids.push(await seedAnalysis(t, rep.callId, rep.email, `2014-05-0${i + 1}T12:00:00Z`, { discovery: score }, 90));
    }
    const insights = await (await t.api.get(`/reps/${rep.id}/insights?from=2014-05-01T00:00:00Z&to=2014-05-31T00:00:00Z`)).json();
    // earlier 71, recent 75.5: +4.5 → stable
    expect(insights.dimensions).toEqual([
      { dimension: 'discovery', average: 73.6, earlier_average: 71, recent_average: 75.5, trend: 'stable' },
    ]);
    expect(insights.recent_wins.map((w: { analysis_id: string }) => w.analysis_id)).toEqual(ids.slice(2).reverse());
  });

  alone('skill gaps against other reps of the same role over the same period', async ({ own }) => {
    const t = own;
    const rep = await newRep(t);
    const peer1 = await newRep(t);
    const peer2 = await newRep(t);
    const otherRole = await newRep(t, { role: 'se' });
    const at = '2012-03-10T12:00:00Z';
    await seedAnalysis(t, rep.callId, rep.email, at, { discovery: 50, engagement: 80, product_knowledge: 70 });
    await seedAnalysis(t, peer1.callId, peer1.email, at, { discovery: 70, engagement: 84, product_knowledge: 78 });
    await seedAnalysis(t, peer2.callId, peer2.email, at, { discovery: 72, engagement: 86, product_knowledge: 80 });
    await seedAnalysis(t, otherRole.callId, otherRole.email, at, { discovery: 10, product_knowledge: 10 });
    await seedAnalysis(t, peer1.callId, peer1.email, '2012-04-01T00:00:00Z', { discovery: 0, product_knowledge: 0 });

    const url = `/reps/${rep.id}/insights?from=2012-03-01T00:00:00Z&to=2012-04-01T00:00:00Z`;
    const insights = await (await t.api.get(url)).json();
    // team: discovery (70 + 72) / 2 = 71 → gap 21 high; product_knowledge 79 → 9 medium; engagement 85 → 5, not a gap
    expect(insights.skill_gaps).toEqual([
      { dimension: 'discovery', rep_average: 50, team_average: 71, gap: 21, severity: 'high' },
      { dimension: 'product_knowledge', rep_average: 70, team_average: 79, gap: 9, severity: 'medium' },
    ]);
    // The peer's team is the others: the rep (50) is below it, so no gap for the peer on discovery.
    const peerView = await (await t.api.get(`/reps/${peer2.id}/insights?from=2012-03-01T00:00:00Z&to=2012-04-01T00:00:00Z`)).json();
    expect(peerView.skill_gaps).toEqual([]);
  });

  test('conversation metrics averaged over the analysed calls that have a transcript', async ({ api, db, cleanup, trackCall }) => {
    const t: Ctx = { api, db, cleanup, trackCall };
    const repEmail = uniqueEmail('talker');
    const call = await storeCall(t, [
      { name: 'Rep', email: repEmail, role: 'ae', company_side: true },
      { name: 'Customer', email: uniqueEmail('customer'), role: 'customer', company_side: false },
    ]);
    const untranscribed = await storeCall(t, [{ name: 'Rep', email: repEmail, role: 'ae', company_side: true }]);
    const repId = await t.db.pool.oneFirst(sql.unsafe`SELECT id FROM reps WHERE email = ${repEmail}`);
    const [ae, customer] = call.speakers.map((s) => s.id);
    const segments: [string, number, number, string][] = [
      [customer!, 0, 10_000, 'Hi there.'],
      [ae!, 12_000, 20_000, 'What brings you here?'],
      [ae!, 20_000, 30_000, 'We help teams.'],
      [customer!, 31_000, 40_000, 'Sounds good.'],
      [ae!, 39_000, 60_000, 'Shall we book a demo?  '], // starts 1 s before the customer stops
    ];
    for (const [i, [speaker, start, end, text]] of segments.entries()) {
      await t.db.pool.query(sql.unsafe`
        INSERT INTO transcripts (call_id, speaker_id, sequence_number, start_time_ms, end_time_ms, text)
        VALUES (${call.id}, ${speaker}, ${i}, ${start}, ${end}, ${text})`);
    }
    await seedAnalysis(t, call.id, repEmail, '2013-06-05T12:00:00Z', { discovery: 70 });
    await seedAnalysis(t, untranscribed.id, repEmail, '2013-06-06T12:00:00Z', { discovery: 70 });

    const insights = await (await t.api.get(`/reps/${repId}/insights?from=2013-06-01T00:00:00Z&to=2013-07-01T00:00:00Z`)).json();
    expect(insights.calls_analysed).toBe(2);
    expect(insights.conversation_metrics).toEqual({
      calls_with_transcript: 1,
      talk_ratio: 67.2, // company 8 + 10 + 21 = 39 s of 58 s
      longest_monologue_seconds: 21, // 12–30 s is 18 s; 39–60 s is 21 s
      interactivity: 5, // 3 speaker changes in 1 minute; 6 per minute is 10
      patience_seconds: 1, // pauses before answering the customer: 2 s, and −1 s counted as 0
      question_rate_per_hour: 120, // 2 questions in 1 minute
    });
  });

  test('per-call metrics have one definition: the call’s metrics and the rep’s insights agree, zero span included', async ({ api, db, cleanup, trackCall }) => {
    const t: Ctx = { api, db, cleanup, trackCall };
    const repEmail = uniqueEmail('metrics');
    const speakers = [
      { name: 'Rep', email: repEmail, role: 'ae', company_side: true, gong_speaker_id: '7001' },
      { name: 'Customer', email: uniqueEmail('customer'), role: 'customer', company_side: false, gong_speaker_id: '7002' },
    ];
    const ordinary = await storeCall(t, speakers);
    const zeroSpan = await storeCall(t, speakers);
    const repId = await t.db.pool.oneFirst(sql.unsafe`SELECT id FROM reps WHERE email = ${repEmail}`);
    const transcripts: [string, unknown][] = [
      // Rep 0–10 s, customer 10–30 s, rep 30–60 s: 2 switches in 60 s, 2 per minute = 3.33 of 10.
      [ordinary.id, [
        { speakerId: '7001', sentences: [{ start: 0, end: 10_000, text: 'Welcome.' }] },
        { speakerId: '7002', sentences: [{ start: 10_000, end: 30_000, text: 'Thanks.' }] },
        { speakerId: '7001', sentences: [{ start: 30_000, end: 60_000, text: 'Let us begin.' }] },
      ]],
      // Everything said at one instant: a switch, but no span to count switches (or questions) in.
      [zeroSpan.id, [
        { speakerId: '7001', sentences: [{ start: 5_000, end: 5_000, text: 'Hello?' }] },
        { speakerId: '7002', sentences: [{ start: 5_000, end: 5_000, text: 'Hi.' }] },
      ]],
    ];
    for (const [callId, transcript] of transcripts) {
      const stored = await t.api.fetch('PUT', `/calls/${callId}/transcript`, { data: transcript });
      expect(stored.status(), await stored.text()).toBe(200);
    }
    // Each call alone in a window of its own, so the rep's averages are that call's values.
    await seedAnalysis(t, ordinary.id, repEmail, '2014-03-05T12:00:00Z', { discovery: 70 });
    await seedAnalysis(t, zeroSpan.id, repEmail, '2014-05-05T12:00:00Z', { discovery: 70 });
    const callMetrics = async (callId: string) => {
      const response = await t.api.get(`/calls/${callId}/metrics`);
      expect(response.status()).toBe(200);
      return response.json();
    };
    const repMetrics = async (from: string, to: string) => {
      const response = await t.api.get(`/reps/${repId}/insights?from=${from}&to=${to}`);
      expect(response.status()).toBe(200);
      return (await response.json()).conversation_metrics;
    };

    expect(await callMetrics(ordinary.id)).toMatchObject({ talk_ratio: 66.67, interactivity: 3.3, question_rate_per_hour: 0 });
    expect(await repMetrics('2014-03-01T00:00:00Z', '2014-04-01T00:00:00Z')).toMatchObject({
      calls_with_transcript: 1, talk_ratio: 66.7, interactivity: 3.3, question_rate_per_hour: 0,
    });
    expect(await callMetrics(zeroSpan.id)).toMatchObject({ has_transcript: true, interactivity: null, question_rate_per_hour: null });
    expect(await repMetrics('2014-05-01T00:00:00Z', '2014-06-01T00:00:00Z')).toMatchObject({
      calls_with_transcript: 1, interactivity: null, question_rate_per_hour: null,
    });
  });

  test('period defaults to the month ending now; week and quarter change the window', async ({ api, db, cleanup, trackCall }) => {
    const t: Ctx = { api, db, cleanup, trackCall };
    const rep = await newRep(t);
    const now = await seedAnalysis(t, rep.callId, rep.email, new Date().toISOString(), { discovery: 70 });
    await t.db.pool.query(sql.unsafe`UPDATE analyses SET created_at = now() - interval '1 hour' WHERE id = ${now}`);
    await seedAnalysis(t, rep.callId, rep.email, new Date(Date.now() - 10 * 86_400_000).toISOString(), { discovery: 70 });
    await seedAnalysis(t, rep.callId, rep.email, new Date(Date.now() - 45 * 86_400_000).toISOString(), { discovery: 70 });
    await seedAnalysis(t, rep.callId, rep.email, new Date(Date.now() - 120 * 86_400_000).toISOString(), { discovery: 70 });

    const count = async (query: string) => {
      const response = await t.api.get(`/reps/${rep.id}/insights${query}`);
      expect(response.status()).toBe(200);
      const body = await response.json();
      expect(Date.parse(body.period.from)).toBeLessThan(Date.parse(body.period.to));
      return body.analyses_count as number;
    };
    expect(await count('')).toBe(2);
    expect(await count('?period=week')).toBe(1);
    expect(await count('?period=month')).toBe(2);
    expect(await count('?period=quarter')).toBe(3);
  });

  const invalid: [string, string][] = [
    ['from without to', '?from=2020-01-01T00:00:00Z'],
    ['to without from', '?to=2020-01-01T00:00:00Z'],
    ['from after to', '?from=2020-02-01T00:00:00Z&to=2020-01-01T00:00:00Z'],
    ['from equal to to', '?from=2020-01-01T00:00:00Z&to=2020-01-01T00:00:00Z'],
    ['an unknown period', '?period=year'],
    ['a from that is not a date-time', '?from=yesterday&to=2020-01-01T00:00:00Z'],
  ];
  for (const [what, query] of invalid) {
    test(`${what} is a 400`, async ({ api, db, cleanup, trackCall }) => {
    const t: Ctx = { api, db, cleanup, trackCall };
      const rep = await newRep(t);
      const response = await t.api.get(`/reps/${rep.id}/insights${query}`);
      expect(response.status()).toBe(400);
      expect((await response.json()).errors[0].location).toBe('query');
    });
  }

  test('a rep reads only their own insights; managers read anyone’s', async ({ api, db, cleanup, trackCall }) => {
    const t: Ctx = { api, db, cleanup, trackCall };
    const me = await newRep(t);
    const other = await newRep(t);
    const rep = t.api.as(signToken({ role: 'rep', email: me.email }));
    expect((await rep.get(`/reps/${me.id}/insights`)).status()).toBe(200);
    expect((await rep.get(`/reps/${other.id}/insights`)).status()).toBe(404);
    const manager = t.api.as(signToken({ role: 'manager', email: uniqueEmail('boss') }));
    expect((await manager.get(`/reps/${other.id}/insights`)).status()).toBe(200);
    expect((await t.api.get(`/reps/${UNKNOWN}/insights`)).status()).toBe(404);
  });
});
