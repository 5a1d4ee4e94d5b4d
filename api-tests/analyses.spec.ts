import { expect, newCall, setupBody, sql, test, uniqueEmail, type ApiClient } from './support/fixtures.js';
import type { Database } from '../db/pool.js';
import { signToken } from './support/tokens.js';

type Speaker = { name: string; email: string; role: string; company_side: boolean };

/** A call whose first speaker is a company-side rep; returns its id and the rep's email. */
async function callWithRep(api: ApiClient, trackCall: (id: string) => void) {
  const body = newCall();
  const response = await api.post('/calls', body);
  expect(response.status()).toBe(201);
  const call = await response.json();
  trackCall(call.id);
  const speakers = body.speakers as Speaker[];
  return { callId: call.id as string, repEmail: speakers[0]!.email, customerEmail: speakers[1]!.email, call };
}

function analysisBody(repEmail: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    rep_email: repEmail,
    scores: { discovery: 82, product_knowledge: 74, objection_handling: 61, engagement: 88 },
    analyst: 'claude-sonnet-4',
    rubric_version: '2026.11',
    ...overrides,
  };
}

/** A refused analysis left nothing: no analysis of the call, and the call not marked processed. */
async function expectNothingStored(db: Database, callId: string): Promise<void> {
  const state = await db.pool.one(sql.unsafe`
    SELECT (SELECT count(*)::int FROM analyses WHERE call_id = ${callId}) AS analyses, processed_at
    FROM calls WHERE id = ${callId}`);
  expect(state).toEqual({ analyses: 0, processed_at: null });
}

const UNKNOWN = '00000000-0000-4000-8000-000000000000';

test.describe('analyses API', { tag: '@integration' }, () => {
  test('POST stores every field, resolves the speaker and rep, and marks the call processed', async ({
    api,
    db,
    trackCall,
  }) => {
    const { callId, repEmail, call } = await callWithRep(api, trackCall);
    const body = analysisBody(repEmail.toUpperCase(), {
      overall_score: 77.5,
      strengths: ['Open questions early', 'Summarised the pain back'],
      areas_for_improvement: ['Quantify the cost of failures'],
      action_items: ['Ask for the cost of one failed night next call'],
      specific_examples: {
        good: [{ start_ms: 4200, end_ms: 9100, summary: 'Asked why now' }],
        needs_work: [{ start_ms: 21000, end_ms: 30000, summary: 'Moved on without quantifying' }],
      },
      coaching_notes: 'Strong discovery; push for numbers.',
      raw_output: { model_response_id: 'resp_123', nested: { tokens: [1, 2, 3] } },
    });
    const response = await api.post(`/calls/${callId}/analyses`, body);
    expect(response.status()).toBe(201);
    const created = await response.json();
    expect(response.headers()['location']).toBe(`/analyses/${created.id}`);

    const speakerId = call.speakers[0].id;
    const repId = await db.pool.oneFirst(sql.unsafe`SELECT id FROM reps WHERE email = ${repEmail.toLowerCase()}`);
    const row = await db.pool.one(sql.unsafe`
      SELECT call_id, speaker_id, rep_id, rep_email, scores, overall_score::float8 AS overall_score, strengths,
             areas_for_improvement, action_items, specific_examples, coaching_notes, analyst, rubric_version, raw_output
      FROM analyses WHERE id = ${created.id}`);
    expect(row).toEqual({
      call_id: callId,
      speaker_id: speakerId,
      rep_id: repId,
      rep_email: repEmail.toLowerCase(),
      scores: body.scores,
      overall_score: 77.5,
      strengths: body.strengths,
      areas_for_improvement: body.areas_for_improvement,
      action_items: body.action_items,
      specific_examples: body.specific_examples,
      coaching_notes: body.coaching_notes,
      analyst: 'claude-sonnet-4',
      rubric_version: '2026.11',
      raw_output: body.raw_output,
    });
    expect(created).toMatchObject({ ...row, id: created.id });

    const processed = await db.pool.oneFirst(sql.unsafe`SELECT processed_at IS NOT NULL FROM calls WHERE id = ${callId}`);
    expect(processed).toBe(true);
    expect((await (await api.get(`/analyses/${created.id}`)).json())).toEqual(created);
  });

  test('overall_score defaults to the rounded mean of the scores; optional fields default empty', async ({
    api,
    db,
    trackCall,
  }) => {
    const { callId, repEmail } = await callWithRep(api, trackCall);
    // (80 + 75 + 70 + 66) / 4 = 72.75 → 73
    const response = await api.post(
      `/calls/${callId}/analyses`,
      analysisBody(repEmail, { scores: { discovery: 80, product_knowledge: 75, objection_handling: 70, engagement: 66 } }),
    );
    expect(response.status()).toBe(201);
    const created = await response.json();
    expect(created).toMatchObject({
      overall_score: 73,
      strengths: [],
      areas_for_improvement: [],
      action_items: [],
      specific_examples: { good: [], needs_work: [] },
      coaching_notes: null,
      raw_output: null,
    });
    const stored = await db.pool.oneFirst(sql.unsafe`SELECT overall_score::text FROM analyses WHERE id = ${created.id}`);
    expect(stored).toBe('73');
  });

  test('a rep who did not speak on the call is a 400 naming /rep_email, and nothing changes', async ({
    api,
    db,
    trackCall,
  }) => {
    const { callId } = await callWithRep(api, trackCall);
    const response = await api.post(`/calls/${callId}/analyses`, analysisBody(uniqueEmail('stranger')));
    expect(response.status()).toBe(400);
    const problem = await response.json();
    expect(problem.errors).toEqual([{ location: 'body', path: '/rep_email', message: expect.any(String) }]);
    await expectNothingStored(db, callId);
  });

  test("a prospect or customer on the call is no rep: 400 naming /rep_email, and nothing changes", async ({ api, db, trackCall }) => {
    const { callId, customerEmail } = await callWithRep(api, trackCall);
    const customer = uniqueEmail('customer');
    expect((await api.post(`/calls/${callId}/speakers`, { name: 'Ana Ruiz', email: customer, role: 'customer', company_side: false })).status()).toBe(201);
    // Labelled a customer yet on the company side: a contradiction, and still no rep to score.
    const labelled = uniqueEmail('labelled');
    expect((await api.post(`/calls/${callId}/speakers`, { name: 'Lee Park', email: labelled, role: 'customer', company_side: true })).status()).toBe(201);
    for (const [email, said] of [
      [customerEmail, 'as prospect, not on the company side;'],
      [customer.toUpperCase(), 'as customer, not on the company side;'],
      [labelled, 'as customer;'],
    ] as const) {
      const response = await api.post(`/calls/${callId}/analyses`, analysisBody(email));
      expect(response.status(), email).toBe(400);
      const problem = await response.json();
      expect(problem.errors).toEqual([
        { location: 'body', path: '/rep_email', message: 'must be the email of a rep on the call: a company-side speaker, not a prospect or customer' },
      ]);
      expect(problem.detail).toContain(said);
    }
    await expectNothingStored(db, callId);
  });

  test('an example that ends before it starts is a 400 naming each such end_ms; a moment (end = start) is stored', async ({ api, db, trackCall }) => {
    const { callId, repEmail } = await callWithRep(api, trackCall);
    const ok = { start_ms: 1000, end_ms: 2000, summary: 'fine' };
    const response = await api.post(
      `/calls/${callId}/analyses`,
      analysisBody(repEmail, {
        specific_examples: {
          good: [ok, { start_ms: 9100, end_ms: 4200, summary: 'backwards' }],
          needs_work: [{ start_ms: 30000, end_ms: 29999, summary: 'one ms backwards' }, ok],
        },
      }),
    );
    expect(response.status()).toBe(400);
    const problem = await response.json();
    expect(problem.errors).toEqual([
      { location: 'body', path: '/specific_examples/good/1/end_ms', message: 'must not be before start_ms (9100)' },
      { location: 'body', path: '/specific_examples/needs_work/0/end_ms', message: 'must not be before start_ms (30000)' },
    ]);
    expect(problem.error_count).toBe(2);
    expect(problem.detail).toBe('body/specific_examples/good/1/end_ms: must not be before start_ms (9100) (and 1 more; see errors)');
    expect(await db.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM analyses WHERE call_id = ${callId}`)).toBe(0);

    const moment = { good: [{ start_ms: 4200, end_ms: 4200, summary: 'a moment' }], needs_work: [] };
    const stored = await api.post(`/calls/${callId}/analyses`, analysisBody(repEmail, { specific_examples: moment }));
    expect(stored.status()).toBe(201);
    expect((await stored.json()).specific_examples).toEqual(moment);
  });

  test('overall_score is stored and answered exactly as sent, never rounded', async ({ api, db, trackCall }) => {
    const { callId, repEmail } = await callWithRep(api, trackCall);
    for (const [sent, text] of [[77.125, '77.125'], [33.333333333333336, '33.333333333333336'], [0.001, '0.001'], [100, '100']] as const) {
      const response = await api.post(`/calls/${callId}/analyses`, analysisBody(repEmail, { overall_score: sent }));
      expect(response.status(), String(sent)).toBe(201);
      const created = await response.json();
      expect(created.overall_score).toBe(sent);
      expect(await db.pool.oneFirst(sql.unsafe`SELECT overall_score::text FROM analyses WHERE id = ${created.id}`)).toBe(text);
      expect((await (await api.get(`/analyses/${created.id}`)).json()).overall_score).toBe(sent);
    }
  });

  test('an invalid body is a 400 from the contract', async ({ api, trackCall }) => {
    const { callId, repEmail } = await callWithRep(api, trackCall);
    const response = await api.post(`/calls/${callId}/analyses`, analysisBody(repEmail, { scores: { discovery: 101 } }));
    expect(response.status()).toBe(400);
    expect((await response.json()).errors.map((e: { path: string }) => e.path)).toContain('/scores/discovery');
  });

  for (const role of ['rep', 'manager'] as const) {
    test(`a ${role} token cannot store an analysis (403)`, async ({ api, db, trackCall }) => {
      const { callId, repEmail } = await callWithRep(api, trackCall);
      const response = await api.as(signToken({ role, email: repEmail })).post(`/calls/${callId}/analyses`, analysisBody(repEmail));
      expect(response.status()).toBe(403);
      expect(await db.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM analyses WHERE call_id = ${callId}`)).toBe(0);
    });
  }

  test('the service role may store an analysis', async ({ api, trackCall }) => {
    const { callId, repEmail } = await callWithRep(api, trackCall);
    const response = await api.as(signToken({ role: 'service' })).post(`/calls/${callId}/analyses`, analysisBody(repEmail));
    expect(response.status()).toBe(201);
  });

  test('unknown calls and analyses are 404s', async ({ api }) => {
    expect((await api.post(`/calls/${UNKNOWN}/analyses`, analysisBody(uniqueEmail('x')))).status()).toBe(404);
    expect((await api.get(`/calls/${UNKNOWN}/analyses`)).status()).toBe(404);
    const response = await api.get(`/analyses/${UNKNOWN}`);
    expect(response.status()).toBe(404);
    expect((await response.json()).detail).toContain(UNKNOWN);
  });

  test('a call lists its analyses newest first, in pages linked by next_cursor', async ({ api, db, trackCall }) => {
    const { callId, repEmail } = await callWithRep(api, trackCall);
    const ids: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      ids.push((await setupBody(api.post(`/calls/${callId}/analyses`, analysisBody(repEmail, { rubric_version: `v${i}` })), 201)).id);
    }
    // Two share a timestamp, so the id breaks the tie.
    const times = ['2026-01-01T10:00:00Z', '2026-01-03T10:00:00Z', '2026-01-02T10:00:00Z', '2026-01-02T10:00:00Z'];
    for (const [i, id] of ids.entries()) {
      await db.pool.query(sql.unsafe`UPDATE analyses SET created_at = ${times[i]!}::timestamptz WHERE id = ${id}`);
    }
    const tied = [ids[2]!, ids[3]!].sort().reverse();
    const expected = [ids[1]!, ...tied, ids[0]!];

    const first = await api.get(`/calls/${callId}/analyses?limit=3`);
    expect(first.status()).toBe(200);
    const page1 = await first.json();
    expect(page1.data.map((a: { id: string }) => a.id)).toEqual(expected.slice(0, 3));
    expect(page1.next_cursor).toEqual(expect.any(String));

    const page2 = await (await api.get(`/calls/${callId}/analyses?limit=3&cursor=${page1.next_cursor}`)).json();
    expect(page2.data.map((a: { id: string }) => a.id)).toEqual(expected.slice(3));
    expect(page2.next_cursor).toBeNull();

    const all = await (await api.get(`/calls/${callId}/analyses`)).json();
    expect(all.data.map((a: { id: string }) => a.id)).toEqual(expected);
    expect(all.next_cursor).toBeNull();
  });

  test('a cursor this service did not issue is a 400', async ({ api, trackCall }) => {
    const { callId } = await callWithRep(api, trackCall);
    const bogus = Buffer.from(JSON.stringify(['yesterday', 'x'])).toString('base64url');
    const response = await api.get(`/calls/${callId}/analyses?cursor=${bogus}`);
    expect(response.status()).toBe(400);
    expect((await response.json()).errors[0].path).toBe('/cursor');
  });

  test('a rep sees the analyses of calls they spoke on, and nothing of other calls', async ({ api, trackCall }) => {
    const mine = await callWithRep(api, trackCall);
    const other = await callWithRep(api, trackCall);
    const myAnalysis = await setupBody(api.post(`/calls/${mine.callId}/analyses`, analysisBody(mine.repEmail)), 201);
    const otherAnalysis = await setupBody(api.post(`/calls/${other.callId}/analyses`, analysisBody(other.repEmail)), 201);

    const rep = api.as(signToken({ role: 'rep', email: mine.repEmail.toUpperCase() }));
    const list = await rep.get(`/calls/${mine.callId}/analyses`);
    expect(list.status()).toBe(200);
    expect((await list.json()).data.map((a: { id: string }) => a.id)).toEqual([myAnalysis.id]);
    expect((await rep.get(`/analyses/${myAnalysis.id}`)).status()).toBe(200);

    expect((await rep.get(`/calls/${other.callId}/analyses`)).status()).toBe(404);
    expect((await rep.get(`/analyses/${otherAnalysis.id}`)).status()).toBe(404);

    // A manager sees both.
    const manager = api.as(signToken({ role: 'manager', email: uniqueEmail('boss') }));
    expect((await manager.get(`/analyses/${otherAnalysis.id}`)).status()).toBe(200);
  });

  test("a rep does not see a colleague's analysis of a call they both spoke on; managers, service and admin do", async ({ api, trackCall }) => {
    const shared = await callWithRep(api, trackCall);
    const colleague = uniqueEmail('colleague');
    expect((await api.post(`/calls/${shared.callId}/speakers`, { name: 'Priya Raman', email: colleague, role: 'se', company_side: true })).status()).toBe(201);
    const mine = await (await api.post(`/calls/${shared.callId}/analyses`, analysisBody(shared.repEmail))).json();
    const theirs = await (
      await api.post(`/calls/${shared.callId}/analyses`, analysisBody(colleague, { coaching_notes: 'Private to Priya', areas_for_improvement: ['Listening'] }))
    ).json();

    const rep = api.as(signToken({ role: 'rep', email: shared.repEmail.toUpperCase() }));
    expect((await rep.get(`/analyses/${theirs.id}`)).status()).toBe(404);
    expect((await rep.get(`/analyses/${mine.id}`)).status()).toBe(200);
    const list = await (await rep.get(`/calls/${shared.callId}/analyses`)).json();
    expect(list.data.map((a: { id: string }) => a.id)).toEqual([mine.id]);

    const colleagueToken = api.as(signToken({ role: 'rep', email: colleague }));
    expect((await colleagueToken.get(`/analyses/${mine.id}`)).status()).toBe(404);
    expect((await colleagueToken.get(`/analyses/${theirs.id}`)).status()).toBe(200);

    for (const role of ['manager', 'service', 'admin'] as const) {
      const reader = api.as(signToken({ role, email: uniqueEmail(role) }));
      expect((await reader.get(`/analyses/${theirs.id}`)).status(), role).toBe(200);
      const all = await (await reader.get(`/calls/${shared.callId}/analyses`)).json();
      expect(all.data.map((a: { id: string }) => a.id).sort(), role).toEqual([mine.id, theirs.id].sort());
    }
  });
});
