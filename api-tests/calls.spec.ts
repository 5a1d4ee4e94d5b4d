import { expect, newCall, sql, test, uniqueEmail, uniqueGongId } from './support/fixtures.js';

test.describe('calls API', { tag: '@integration' }, () => {
  test('POST /calls stores the call and its speakers with the values sent', async ({ api, db, trackCall }) => {
    const body = newCall();
    const response = await api.post('/calls', body);
    expect(response.status()).toBe(201);
    const created = await response.json();
    trackCall(created.id);
    expect(response.headers()['location']).toBe(`/calls/${created.id}`);

    const row = await db.pool.one(sql.unsafe`
      SELECT gong_call_id, title, scheduled_at, duration_seconds, call_type, product, metadata
      FROM calls WHERE id = ${created.id}`);
    expect(row).toMatchObject({
      gong_call_id: body.gong_call_id,
      title: body.title,
      duration_seconds: 1860,
      call_type: 'discovery',
      product: 'prefect',
      metadata: { direction: 'Outbound', scope: 'External' },
    });
    expect(new Date(row.scheduled_at as number).toISOString()).toBe('2026-11-02T15:00:00.000Z');

    const speakers = await db.pool.any(sql.unsafe`
      SELECT name, email, role, company_side FROM speakers WHERE call_id = ${created.id} ORDER BY role`);
    const sent = body.speakers as { name: string; email: string }[];
    expect(speakers).toEqual([
      { name: 'Sarah Chen', email: sent[0]!.email, role: 'ae', company_side: true },
      { name: 'Dan Ortiz', email: sent[1]!.email, role: 'prospect', company_side: false },
    ]);
  });

  test('GET /calls/{id} returns the complete call with its speakers', async ({ api, trackCall }) => {
    const body = newCall({ call_type: 'demo', duration_seconds: null, product: null });
    const created = await (await api.post('/calls', body)).json();
    trackCall(created.id);

    const response = await api.get(`/calls/${created.id}`);
    expect(response.status()).toBe(200);
    const call = await response.json();
    expect(call).toEqual(created);
    expect(call).toMatchObject({
      id: created.id,
      gong_call_id: body.gong_call_id,
      title: body.title,
      scheduled_at: '2026-11-02T15:00:00+00:00',
      duration_seconds: null,
      call_type: 'demo',
      product: null,
      processed_at: null,
    });
    expect(call.speakers.map((s: { name: string }) => s.name)).toEqual(['Sarah Chen', 'Dan Ortiz']);
    for (const speaker of call.speakers) {
      expect(speaker.call_id).toBe(created.id);
      expect(speaker.talk_time_seconds).toBeNull();
    }
  });

  test('a call without speakers comes back with an empty list', async ({ api, trackCall }) => {
    const { speakers: _none, ...body } = newCall();
    const created = await (await api.post('/calls', body)).json();
    trackCall(created.id);
    expect(created.speakers).toEqual([]);
    expect(created.call_type).toBe('discovery');
  });

  test('GET of an unknown call is a 404 problem', async ({ api }) => {
    const id = '00000000-0000-4000-8000-000000000000';
    const response = await api.get(`/calls/${id}`);
    expect(response.status()).toBe(404);
    expect(response.headers()['content-type']).toContain('application/problem+json');
    const problem = await response.json();
    expect(problem).toMatchObject({ status: 404, title: 'Not Found', instance: `/calls/${id}` });
    expect(problem.detail).toContain(id);
  });

  test('GET with an id that is not a UUID is a 400 naming the path parameter', async ({ api }) => {
    const response = await api.get('/calls/not-a-uuid');
    expect(response.status()).toBe(400);
    const problem = await response.json();
    // The format, and the pattern that also refuses the urn:uuid: form ajv-formats' uuid accepts.
    expect(problem.errors).toContainEqual({ location: 'path', path: '/call_id', message: 'must match format "uuid"' });
    expect(problem.errors.map((error: { location: string; path: string }) => `${error.location} ${error.path}`)).toEqual(['path /call_id', 'path /call_id']);
  });

  const invalidBodies: [string, Record<string, unknown>, string][] = [
    ['a missing title', { title: undefined }, '/title'],
    ['an empty title', { title: '' }, '/title'],
    ['a non-numeric gong_call_id', { gong_call_id: 'abc-123' }, '/gong_call_id'],
    ['a date that is not RFC 3339', { scheduled_at: 'next tuesday' }, '/scheduled_at'],
    ['an unknown call_type', { call_type: 'lunch' }, '/call_type'],
    ['a negative duration', { duration_seconds: -5 }, '/duration_seconds'],
    ['a property the contract does not know', { colour: 'blue' }, '/colour'],
    ['a speaker with a bad email', { speakers: [{ name: 'X', email: 'not-an-email', role: 'ae', company_side: true }] }, '/speakers/0/email'],
    ['a NUL character in the title', { title: 'bad\u0000title' }, '/title'],
  ];
  for (const [what, change, path] of invalidBodies) {
    test(`POST with ${what} is a 400 problem that names ${path}`, async ({ api, db }) => {
      const body = { ...newCall(), ...change };
      const response = await api.post('/calls', body);
      expect(response.status()).toBe(400);
      const problem = await response.json();
      expect(problem.detail).toBeTruthy();
      expect(problem.errors.map((e: { path: string }) => e.path)).toContain(path);
      expect(problem.errors.every((e: { location: string }) => e.location === 'body')).toBe(true);
      const stored = await db.pool.exists(sql.unsafe`SELECT 1 FROM calls WHERE gong_call_id = ${String(body.gong_call_id)}`);
      expect(stored).toBe(false);
    });
  }

  test('malformed JSON is a 400 problem', async ({ api }) => {
    const response = await api.fetch('POST', '/calls', {
      // As bytes: Playwright would re-encode a malformed JSON string as a well-formed JSON string.
      data: Buffer.from('{"gong_call_id": "1", "title": '),
      headers: { 'Content-Type': 'application/json' },
    });
    expect(response.status()).toBe(400);
    expect((await response.json()).detail).toMatch(/not valid JSON/);
  });

  test('a body that is not JSON is a 415 problem', async ({ api }) => {
    const response = await api.fetch('POST', '/calls', { data: 'title=hello', headers: { 'Content-Type': 'text/plain' } });
    expect(response.status()).toBe(415);
    expect((await response.json()).detail).toContain('application/json');
  });

  test('a body over the size limit is a 413 problem', async ({ api }) => {
    const response = await api.post('/calls', newCall({ metadata: { blob: 'x'.repeat(1_100_000) } }));
    expect(response.status()).toBe(413);
  });

  test('a second call with the same gong_call_id is a 409 and changes nothing', async ({ api, db, trackCall }) => {
    const body = newCall();
    const first = await (await api.post('/calls', body)).json();
    trackCall(first.id);
    const response = await api.post('/calls', { ...newCall(), gong_call_id: body.gong_call_id, title: 'Impostor' });
    expect(response.status()).toBe(409);
    expect((await response.json()).detail).toContain('gong_call_id');
    const titles = await db.pool.anyFirst(sql.unsafe`SELECT title FROM calls WHERE gong_call_id = ${String(body.gong_call_id)}`);
    expect(titles).toEqual([body.title]);
  });
});

test.describe('speakers API', { tag: '@integration' }, () => {
  test('POST /calls/{id}/speakers adds a speaker that GET returns', async ({ api, db, trackCall }) => {
    const call = await (await api.post('/calls', newCall())).json();
    trackCall(call.id);
    const email = uniqueEmail('priya');
    const response = await api.post(`/calls/${call.id}/speakers`, { name: 'Priya Raman', email, role: 'se', company_side: true });
    expect(response.status()).toBe(201);
    const speaker = await response.json();
    expect(response.headers()['location']).toBe(`/calls/${call.id}/speakers/${speaker.id}`);
    expect(speaker).toMatchObject({ call_id: call.id, name: 'Priya Raman', email, role: 'se', company_side: true });

    const stored = await db.pool.one(sql.unsafe`SELECT name, role FROM speakers WHERE id = ${speaker.id}`);
    expect(stored).toEqual({ name: 'Priya Raman', role: 'se' });
    expect(await (await api.get(`/calls/${call.id}/speakers/${speaker.id}`)).json()).toEqual(speaker);
    const refreshed = await (await api.get(`/calls/${call.id}`)).json();
    expect(refreshed.speakers).toHaveLength(3);
    expect(refreshed.speakers[2]).toEqual(speaker);
  });

  test('adding a speaker to an unknown call is a 404 and stores nothing', async ({ api, db }) => {
    const email = uniqueEmail('ghost');
    const response = await api.post('/calls/00000000-0000-4000-8000-000000000000/speakers', {
      name: 'Ghost', email, role: 'ae', company_side: true,
    });
    expect(response.status()).toBe(404);
    expect(await db.pool.exists(sql.unsafe`SELECT 1 FROM speakers WHERE email = ${email}`)).toBe(false);
  });

  test('a second speaker with the same email on one call is a 409', async ({ api, trackCall }) => {
    const body = newCall();
    const call = await (await api.post('/calls', body)).json();
    trackCall(call.id);
    const existing = (body.speakers as { email: string }[])[0]!.email;
    const response = await api.post(`/calls/${call.id}/speakers`, { name: 'Twin', email: existing, role: 'se', company_side: true });
    expect(response.status()).toBe(409);
  });

  test('a speaker of another call is not found under this call', async ({ api, trackCall }) => {
    const first = await (await api.post('/calls', newCall())).json();
    const second = await (await api.post('/calls', newCall({ gong_call_id: uniqueGongId() }))).json();
    trackCall(first.id);
    trackCall(second.id);
    const response = await api.get(`/calls/${second.id}/speakers/${first.speakers[0].id}`);
    expect(response.status()).toBe(404);
  });
});
