import { randomUUID } from 'node:crypto';
import { expect, newCall, sql, test, uniqueEmail, uniqueGongId } from './support/fixtures.js';
import { signToken } from './support/tokens.js';

test.describe('listing calls', { tag: '@integration' }, () => {
  test('filters combine and pages follow the cursor, newest first, without overlap', async ({ api, trackCall }) => {
    const product = `product-${randomUUID().slice(0, 8)}`;
    const times = ['2026-10-01T09:00:00Z', '2026-10-02T09:00:00Z', '2026-10-03T09:00:00Z', '2026-10-04T09:00:00Z', '2026-10-05T09:00:00Z'];
    for (const [index, scheduled_at] of times.entries()) {
      const call = await (await api.post('/calls', newCall({ product, scheduled_at, call_type: index % 2 ? 'demo' : 'discovery' }))).json();
      trackCall(call.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: URLSearchParams = new URLSearchParams({ product, limit: "2", ...(cursor ? { cursor } : {}) });
      const body: { data: { scheduled_at: string }[]; next_cursor: string | null } = await (await api.get(`/calls?${query}`)).json();
      expect(body.data.length).toBeLessThanOrEqual(2);
      seen.push(...body.data.map((call: { scheduled_at: string }) => call.scheduled_at));
      cursor = body.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...times].reverse().map((time) => time.replace('Z', '+00:00')));

    const demos = await (await api.get(`/calls?product=${product}&call_type=demo`)).json();
    expect(demos.data.map((call: { call_type: string }) => call.call_type)).toEqual(['demo', 'demo']);
    const window = await (
      await api.get(`/calls?product=${product}&scheduled_from=2026-10-02T00:00:00Z&scheduled_to=2026-10-04T00:00:00Z`)
    ).json();
    expect(window.data.map((call: { scheduled_at: string }) => call.scheduled_at)).toEqual([
      '2026-10-03T09:00:00+00:00',
      '2026-10-02T09:00:00+00:00',
    ]);
  });

  test('rep_email and title words narrow the list; LIKE wildcards in q match literally', async ({ api, trackCall }) => {
    const marker = randomUUID().slice(0, 8);
    const email = uniqueEmail('lister');
    const mine = await (
      await api.post('/calls', newCall({ title: `Globex ${marker} renewal 100%`, speakers: [{ name: 'L', email, role: 'ae', company_side: true }] }))
    ).json();
    const other = await (await api.post('/calls', newCall({ title: `Globex ${marker} kickoff` }))).json();
    trackCall(mine.id);
    trackCall(other.id);
    const byRep = await (await api.get(`/calls?rep_email=${encodeURIComponent(email.toUpperCase())}`)).json();
    expect(byRep.data.map((call: { id: string }) => call.id)).toEqual([mine.id]);
    const byWords = await (await api.get(`/calls?q=${encodeURIComponent(`globex ${marker}`)}`)).json();
    expect(byWords.data.map((call: { id: string }) => call.id).sort()).toEqual([mine.id, other.id].sort());
    const literal = await (await api.get(`/calls?q=${encodeURIComponent(`${marker} 100%`)}`)).json();
    expect(literal.data.map((call: { id: string }) => call.id)).toEqual([mine.id]);
    const wildcard = await (await api.get(`/calls?q=${encodeURIComponent(`${marker} _ickoff`)}`)).json();
    expect(wildcard.data).toEqual([]);
  });

  test('limit bounds and a forged cursor are 400s', async ({ api }) => {
    expect((await api.get('/calls?limit=0')).status()).toBe(400);
    expect((await api.get('/calls?limit=201')).status()).toBe(400);
    const forged = await api.get('/calls?cursor=bm90LWEtY3Vyc29y');
    expect(forged.status()).toBe(400);
    expect((await forged.json()).errors[0]).toMatchObject({ location: 'query', path: '/cursor' });
    // Well-formed JSON of the right length, but not a (timestamp, uuid) position.
    const wrongShape = Buffer.from(JSON.stringify(['next tuesday', 'not-a-uuid'])).toString('base64url');
    const reshaped = await api.get(`/calls?cursor=${wrongShape}`);
    expect(reshaped.status()).toBe(400);
    expect((await reshaped.json()).errors[0]).toMatchObject({ location: 'query', path: '/cursor' });
  });
});

test.describe('changing and deleting calls', { tag: '@integration' }, () => {
  test('PATCH changes only the fields sent and bumps updated_at', async ({ api, db, trackCall }) => {
    const created = await (await api.post('/calls', newCall())).json();
    trackCall(created.id);
    const response = await api.fetch('PATCH', `/calls/${created.id}`, {
      data: { title: 'Renamed', product: null, processed_at: '2026-11-03T10:00:00Z' },
    });
    expect(response.status()).toBe(200);
    const updated = await response.json();
    expect(updated).toMatchObject({ title: 'Renamed', product: null, call_type: created.call_type, processed_at: '2026-11-03T10:00:00+00:00' });
    expect(updated.updated_at > created.updated_at).toBe(true);
    const row = await db.pool.one(sql.unsafe`SELECT title, product FROM calls WHERE id = ${created.id}`);
    expect(row).toEqual({ title: 'Renamed', product: null });
  });

  test('PATCH with nothing to change, or with gong_call_id, is a 400', async ({ api, trackCall }) => {
    const created = await (await api.post('/calls', newCall())).json();
    trackCall(created.id);
    expect((await api.fetch('PATCH', `/calls/${created.id}`, { data: {} })).status()).toBe(400);
    expect((await api.fetch('PATCH', `/calls/${created.id}`, { data: { gong_call_id: '1' } })).status()).toBe(400);
  });

  test('DELETE removes the call and everything under it; then it is 404', async ({ api, db }) => {
    const created = await (await api.post('/calls', newCall())).json();
    const response = await api.fetch('DELETE', `/calls/${created.id}`);
    expect(response.status()).toBe(204);
    expect(await response.body()).toHaveLength(0);
    expect((await api.get(`/calls/${created.id}`)).status()).toBe(404);
    expect((await api.fetch('DELETE', `/calls/${created.id}`)).status()).toBe(404);
    expect(await db.pool.exists(sql.unsafe`SELECT 1 FROM speakers WHERE call_id = ${created.id}`)).toBe(false);
  });
});

test.describe('upsert by Gong id', { tag: '@integration' }, () => {
  const body = (email: string) => ({
    title: 'Synced call',
    scheduled_at: '2026-11-04T12:00:00Z',
    duration_seconds: 900,
    call_type: 'demo',
    metadata: { system: 'Zoom' },
    speakers: [
      { name: 'Rep', email, role: 'ae', company_side: true, gong_speaker_id: '111' },
      { name: 'Buyer', email: null, role: 'prospect', company_side: false, gong_speaker_id: '222' },
    ],
  });

  test('creates (201), then re-delivery changes nothing, then a change updates (200)', async ({ api, db, trackCall }) => {
    const gongId = uniqueGongId();
    const email = uniqueEmail('sync');
    const first = await api.fetch('PUT', `/calls/by-gong-id/${gongId}`, { data: body(email) });
    expect(first.status()).toBe(201);
    const created = await first.json();
    trackCall(created.id);
    expect(first.headers()['location']).toBe(`/calls/${created.id}`);
    expect(created.speakers.map((s: { gong_speaker_id: string }) => s.gong_speaker_id)).toEqual(['111', '222']);

    const again = await api.fetch('PUT', `/calls/by-gong-id/${gongId}`, { data: body(email) });
    expect(again.status()).toBe(200);
    expect(await again.json()).toEqual(created); // same ids, same updated_at: nothing was written

    const changed = { ...body(email), title: 'Synced call v2', speakers: [{ ...body(email).speakers[1]!, name: 'Buyer Person' }] };
    const third = await api.fetch('PUT', `/calls/by-gong-id/${gongId}`, { data: changed });
    expect(third.status()).toBe(200);
    const updated = await third.json();
    expect(updated.title).toBe('Synced call v2');
    expect(updated.updated_at > created.updated_at).toBe(true);
    expect(updated.speakers.map((s: { id: string; name: string }) => [s.id, s.name])).toEqual([
      [created.speakers[0].id, 'Rep'],
      [created.speakers[1].id, 'Buyer Person'],
    ]);
    expect(await db.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM calls WHERE gong_call_id = ${gongId}`)).toBe(1);
  });

  test('two speakers with one email in a request are a 400 and nothing is stored', async ({ api, db }) => {
    const gongId = uniqueGongId();
    const email = uniqueEmail('dup');
    const response = await api.fetch('PUT', `/calls/by-gong-id/${gongId}`, {
      data: { ...body(email), speakers: [body(email).speakers[0], { ...body(email).speakers[0], gong_speaker_id: '333' }] },
    });
    expect(response.status()).toBe(400);
    expect((await response.json()).errors[0].path).toBe('/speakers/1/email');
    expect(await db.pool.exists(sql.unsafe`SELECT 1 FROM calls WHERE gong_call_id = ${gongId}`)).toBe(false);
  });
});

test.describe('roles', { tag: '@integration' }, () => {
  test('rep and manager tokens cannot write; service can ingest but not delete', async ({ api, trackCall }) => {
    for (const role of ['rep', 'manager'] as const) {
      const as = api.as(signToken({ role, email: uniqueEmail(role) }));
      const response = await as.post('/calls', newCall());
      expect(response.status(), role).toBe(403);
      expect((await response.json()).detail).toContain('admin, service');
    }
    const service = api.as(signToken({ role: 'service' }));
    const created = await (await service.post('/calls', newCall())).json();
    trackCall(created.id);
    expect((await service.fetch('DELETE', `/calls/${created.id}`)).status()).toBe(403);
  });

  test('a rep sees only calls they spoke on; a manager sees all', async ({ api, trackCall }) => {
    const repEmail = uniqueEmail('rep');
    const product = `scoped-${randomUUID().slice(0, 8)}`;
    const theirs = await (
      await api.post('/calls', newCall({ product, speakers: [{ name: 'Rep', email: repEmail, role: 'ae', company_side: true }] }))
    ).json();
    const notTheirs = await (await api.post('/calls', newCall({ product }))).json();
    trackCall(theirs.id);
    trackCall(notTheirs.id);

    const rep = api.as(signToken({ role: 'rep', email: repEmail.toUpperCase() }));
    expect((await (await rep.get(`/calls?product=${product}`)).json()).data.map((c: { id: string }) => c.id)).toEqual([theirs.id]);
    expect((await rep.get(`/calls/${theirs.id}`)).status()).toBe(200);
    expect((await rep.get(`/calls/${notTheirs.id}`)).status()).toBe(404);
    expect((await rep.get(`/calls/${notTheirs.id}/speakers/${notTheirs.speakers[0].id}`)).status()).toBe(404);

    const manager = api.as(signToken({ role: 'manager', email: uniqueEmail('boss') }));
    expect((await (await manager.get(`/calls?product=${product}`)).json()).data).toHaveLength(2);
  });

  test('a rep token without an email is refused', async ({ api }) => {
    const token = signToken({ role: 'rep', email: undefined });
    const response = await api.as(token).get('/calls');
    expect(response.status()).toBe(401);
  });
});
