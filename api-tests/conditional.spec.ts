/**
 * Conditional requests (RFC 9110 section 13): ETag on every single-resource GET, If-None-Match →
 * 304, If-Match on PATCH, PUT and DELETE → 412 when stale. Tags are compared with what the tests
 * compute from the bytes received, and the database is checked after every refused write.
 */
import { createHash } from 'node:crypto';
import type { APIResponse } from '@playwright/test';
import { expect, newCall, sql, test, uniqueEmail, uniqueGongId, type ApiClient } from './support/fixtures.js';
import { holdLock, untilBlocked } from './support/locks.js';

const SARAH = '6432345678555530067';
const DAN = '6432345678555530068';

const transcript = [
  { speakerId: SARAH, topic: 'Introduction', sentences: [{ start: 0, end: 4200, text: 'Thanks for making the time today.' }] },
  { speakerId: DAN, sentences: [{ start: 5000, end: 9000, text: 'Our nightly jobs keep failing.' }] },
];

/** A call with two speakers carrying Gong speaker ids (Sarah is company side, so also a rep). */
async function createCall(api: ApiClient, trackCall: (id: string) => void) {
  const body = newCall({
    speakers: [
      { name: 'Sarah Chen', email: uniqueEmail('sarah'), role: 'ae', company_side: true, gong_speaker_id: SARAH },
      { name: 'Dan Ortiz', email: uniqueEmail('dan'), role: 'prospect', company_side: false, gong_speaker_id: DAN },
    ],
  });
  const response = await api.post('/calls', body);
  expect(response.status()).toBe(201);
  const call = await response.json();
  trackCall(call.id);
  return { id: call.id as string, body, sarahId: call.speakers[0].id as string, sarahEmail: call.speakers[0].email as string };
}

/**
 * The ETag a response carries, after checking it is the SHA-256 of the very bytes received
 * (decoded: Playwright asks for gzip, br and deflate, and decodes), suffixed with the content
 * coding the body came in, if any (compression.spec.ts has the raw bytes).
 */
async function tagOf(response: APIResponse): Promise<string> {
  expect(response.status()).toBe(200);
  const tag = response.headers()['etag'];
  expect(tag, `${response.url()} carries an ETag`).toMatch(/^"[A-Za-z0-9_-]{43}(-gzip|-br)?"$/);
  const coding = response.headers()['content-encoding'];
  const digest = createHash('sha256').update(await response.body()).digest('base64url');
  expect(tag).toBe(coding ? `"${digest}-${coding}"` : `"${digest}"`);
  return tag!;
}

test.describe('conditional requests', { tag: '@integration' }, () => {
  test('every single-resource GET has a strong ETag of its bytes, kept while nothing changes, and If-None-Match gets 304', async ({
    api,
    db,
    trackCall,
  }) => {
    const call = await createCall(api, trackCall);
    expect((await api.put(`/calls/${call.id}/transcript`, transcript)).status()).toBe(200);
    const analysis = await api.post(`/calls/${call.id}/analyses`, {
      rep_email: call.sarahEmail, scores: { discovery: 80 }, analyst: 'coach', rubric_version: '1',
    });
    expect(analysis.status()).toBe(201);
    const repId = await db.pool.oneFirst(sql.unsafe`SELECT id FROM reps WHERE email = ${call.sarahEmail}`);
    const paths = [
      `/calls/${call.id}`,
      `/calls/${call.id}/speakers/${call.sarahId}`,
      `/calls/${call.id}/transcript`,
      `/calls/${call.id}/metrics`,
      `/analyses/${(await analysis.json()).id}`,
      `/reps/${repId}`,
      `/reps/${repId}/insights?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z`,
    ];
    for (const path of paths) {
      const tag = await tagOf(await api.get(path));
      expect(await tagOf(await api.get(path)), `${path}: a second GET gives the same tag`).toBe(tag);
      for (const ifNoneMatch of [tag, `W/${tag}`, `"other", ${tag}`, '*']) {
        const notModified = await api.get(path, { headers: { 'If-None-Match': ifNoneMatch } });
        expect(notModified.status(), `${path} with If-None-Match: ${ifNoneMatch}`).toBe(304);
        expect(notModified.headers()['etag']).toBe(tag);
        expect(await notModified.body()).toHaveLength(0);
      }
      for (const ifNoneMatch of ['"other"', `W/"other", "${tag.slice(2)}`, 'not-a-tag']) {
        const full = await api.get(path, { headers: { 'If-None-Match': ifNoneMatch } });
        expect(await tagOf(full), `${path} with If-None-Match: ${ifNoneMatch} is answered in full`).toBe(tag);
      }
    }
  });

  test('the tags change on a speaker change and a transcript ingest, and only where the representation changed', async ({
    api,
    trackCall,
  }) => {
    const call = await createCall(api, trackCall);
    const other = await createCall(api, trackCall);
    const tags = async () => ({
      call: await tagOf(await api.get(`/calls/${call.id}`)),
      sarah: await tagOf(await api.get(`/calls/${call.id}/speakers/${call.sarahId}`)),
      transcript: await tagOf(await api.get(`/calls/${call.id}/transcript`)),
      metrics: await tagOf(await api.get(`/calls/${call.id}/metrics`)),
    });
    const first = await tags();

    // Nothing about this call changes: another call's change, and an upsert with the stored values.
    expect((await api.patch(`/calls/${other.id}`, { title: 'Another title' })).status()).toBe(200);
    const { gong_call_id: gongId, ...fields } = call.body;
    expect((await api.put(`/calls/by-gong-id/${gongId}`, fields)).status()).toBe(200);
    expect(await tags()).toEqual(first);

    // A new speaker changes the call, not the other speaker, the transcript or the metrics.
    const added = await api.post(`/calls/${call.id}/speakers`, { name: 'Priya Raman', email: uniqueEmail('priya'), role: 'se', company_side: true });
    expect(added.status()).toBe(201);
    const afterSpeaker = await tags();
    expect(afterSpeaker.call).not.toBe(first.call);
    expect({ ...afterSpeaker, call: first.call }).toEqual(first);

    // The ingest stores talk time on the speakers: every one of the four changes.
    expect((await api.put(`/calls/${call.id}/transcript`, transcript)).status()).toBe(200);
    const afterIngest = await tags();
    for (const key of ['call', 'sarah', 'transcript', 'metrics'] as const) {
      expect(afterIngest[key], `${key} after the ingest`).not.toBe(afterSpeaker[key]);
    }

    // The same transcript again: new segment ids (the transcript changes), the same talk time
    // and metrics (the call, the speaker and the metrics keep their tags).
    expect((await api.put(`/calls/${call.id}/transcript`, transcript)).status()).toBe(200);
    const again = await tags();
    expect(again.transcript).not.toBe(afterIngest.transcript);
    expect({ ...again, transcript: afterIngest.transcript }).toEqual(afterIngest);
  });

  test("a rep's insights tag changes when an analysis in the window does, and not for one outside it", async ({ api, db, trackCall }) => {
    const call = await createCall(api, trackCall);
    const repId = await db.pool.oneFirst(sql.unsafe`SELECT id FROM reps WHERE email = ${call.sarahEmail}`);
    // A window in the past that no other test writes into (see reps.spec.ts).
    const path = `/reps/${repId}/insights?from=2009-07-01T00:00:00Z&to=2009-08-01T00:00:00Z`;
    const analyse = async (at: string, discovery: number) => {
      const created = await api.post(`/calls/${call.id}/analyses`, { rep_email: call.sarahEmail, scores: { discovery }, analyst: 'coach', rubric_version: '1' });
      expect(created.status()).toBe(201);
      const { id } = await created.json();
      await db.pool.query(sql.unsafe`UPDATE analyses SET created_at = ${at}::timestamptz WHERE id = ${id}`);
      return id as string;
    };
    const analysisId = await analyse('2009-07-10T12:00:00Z', 70);
    const first = await tagOf(await api.get(path));
    expect(await tagOf(await api.get(path))).toBe(first);
    const notModified = await api.get(path, { headers: { 'If-None-Match': first } });
    expect(notModified.status()).toBe(304);
    expect(notModified.headers()['etag']).toBe(first);

    // Outside the window: the insights are as they were.
    await analyse('2009-08-01T00:00:00Z', 10);
    expect(await tagOf(await api.get(path))).toBe(first);

    // Inside it: a new representation, so a new tag, and the old one no longer gets 304.
    await analyse('2009-07-20T12:00:00Z', 90);
    const second = await tagOf(await api.get(path));
    expect(second).not.toBe(first);
    expect(await tagOf(await api.get(path, { headers: { 'If-None-Match': first } }))).toBe(second);

    // A score corrected in the database is a change too, though no write went through the API.
    await db.pool.query(sql.unsafe`UPDATE analyses SET overall_score = 71 WHERE id = ${analysisId}`);
    expect(await tagOf(await api.get(path))).not.toBe(second);
  });

  test('PATCH with If-Match: a stale tag is a 412 that changes nothing; the current tag and * change the call', async ({
    api,
    db,
    trackCall,
  }) => {
    const call = await createCall(api, trackCall);
    const stale = await tagOf(await api.get(`/calls/${call.id}`));
    expect((await api.patch(`/calls/${call.id}`, { title: 'Second title' })).status()).toBe(200);
    const current = await tagOf(await api.get(`/calls/${call.id}`));

    for (const ifMatch of [stale, `W/${current}`, '"other"']) {
      const refused = await api.patch(`/calls/${call.id}`, { title: 'Lost update' }, { headers: { 'If-Match': ifMatch } });
      expect(refused.status(), `If-Match: ${ifMatch}`).toBe(412);
      expect((await refused.json()).detail).toContain('If-Match');
    }
    expect(await db.pool.oneFirst(sql.unsafe`SELECT title FROM calls WHERE id = ${call.id}`)).toBe('Second title');
    expect(await tagOf(await api.get(`/calls/${call.id}`))).toBe(current);

    const changed = await api.patch(`/calls/${call.id}`, { title: 'Third title' }, { headers: { 'If-Match': `"other", ${current}` } });
    expect(changed.status()).toBe(200);
    // The answer's tag is the one a GET now gives, so a client can chain conditional writes.
    const third = await tagOf(changed);
    expect(await tagOf(await api.get(`/calls/${call.id}`))).toBe(third);
    expect((await api.patch(`/calls/${call.id}`, { title: 'Fourth title' }, { headers: { 'If-Match': third } })).status()).toBe(200);
    expect((await api.patch(`/calls/${call.id}`, { title: 'Fifth title' }, { headers: { 'If-Match': '*' } })).status()).toBe(200);
    expect(await db.pool.oneFirst(sql.unsafe`SELECT title FROM calls WHERE id = ${call.id}`)).toBe('Fifth title');

    // A precondition does not turn a 404 into a 412.
    const unknown = '00000000-0000-4000-8000-000000000000';
    expect((await api.patch(`/calls/${unknown}`, { title: 'x' }, { headers: { 'If-Match': '*' } })).status()).toBe(404);
  });

  test('DELETE with If-Match: a stale tag keeps the call, the current one deletes it', async ({ api, db, trackCall }) => {
    const call = await createCall(api, trackCall);
    const stale = await tagOf(await api.get(`/calls/${call.id}`));
    expect((await api.post(`/calls/${call.id}/speakers`, { name: 'Priya', role: 'se', company_side: true })).status()).toBe(201);
    expect((await api.delete(`/calls/${call.id}`, { headers: { 'If-Match': stale } })).status()).toBe(412);
    expect(await db.pool.exists(sql.unsafe`SELECT 1 FROM calls WHERE id = ${call.id}`)).toBe(true);
    const current = await tagOf(await api.get(`/calls/${call.id}`));
    expect((await api.delete(`/calls/${call.id}`, { headers: { 'If-Match': current } })).status()).toBe(204);
    expect(await db.pool.exists(sql.unsafe`SELECT 1 FROM calls WHERE id = ${call.id}`)).toBe(false);
  });

  test('PUT transcript with If-Match compares with the transcript: stale is a 412 that keeps the old segments', async ({
    api,
    db,
    trackCall,
  }) => {
    const call = await createCall(api, trackCall);
    const empty = await tagOf(await api.get(`/calls/${call.id}/transcript`));
    expect((await api.put(`/calls/${call.id}/transcript`, transcript, { headers: { 'If-Match': empty } })).status()).toBe(200);
    const segments = () => db.pool.anyFirst(sql.unsafe`SELECT id FROM transcripts WHERE call_id = ${call.id} ORDER BY id`);
    const stored = await segments();
    expect(stored).toHaveLength(2);

    const refused = await api.put(`/calls/${call.id}/transcript`, transcript.slice(0, 1), { headers: { 'If-Match': empty } });
    expect(refused.status()).toBe(412);
    expect(await segments()).toEqual(stored);
    // The call's tag is not the transcript's.
    const callTag = await tagOf(await api.get(`/calls/${call.id}`));
    expect((await api.put(`/calls/${call.id}/transcript`, transcript, { headers: { 'If-Match': callTag } })).status()).toBe(412);

    const current = await tagOf(await api.get(`/calls/${call.id}/transcript`));
    expect((await api.put(`/calls/${call.id}/transcript`, transcript.slice(0, 1), { headers: { 'If-Match': current } })).status()).toBe(200);
    expect(await segments()).toHaveLength(1);
  });

  test('PUT by Gong id with If-Match: no call yet is a 412 that creates nothing; the call\'s current tag updates it', async ({
    api,
    db,
    trackCall,
  }) => {
    const gongId = uniqueGongId();
    const { gong_call_id: _, ...fields } = newCall();
    const refused = await api.put(`/calls/by-gong-id/${gongId}`, fields, { headers: { 'If-Match': '*' } });
    expect(refused.status()).toBe(412);
    expect(await db.pool.exists(sql.unsafe`SELECT 1 FROM calls WHERE gong_call_id = ${gongId}`)).toBe(false);

    const created = await api.put(`/calls/by-gong-id/${gongId}`, fields);
    expect(created.status()).toBe(201);
    const id = (await created.json()).id as string;
    trackCall(id);
    const current = await tagOf(await api.get(`/calls/${id}`));
    expect((await api.put(`/calls/by-gong-id/${gongId}`, { ...fields, title: 'New' }, { headers: { 'If-Match': current } })).status()).toBe(200);
    expect((await api.put(`/calls/by-gong-id/${gongId}`, { ...fields, title: 'Newer' }, { headers: { 'If-Match': current } })).status()).toBe(412);
    expect(await db.pool.oneFirst(sql.unsafe`SELECT title FROM calls WHERE id = ${id}`)).toBe('New');
  });

  test('PATCH /reps with If-Match: stale is a 412, the current tag changes the rep and answers with the new tag', async ({
    api,
    db,
    trackCall,
    cleanup,
  }) => {
    const call = await createCall(api, trackCall);
    const repId = (await db.pool.oneFirst(sql.unsafe`SELECT id FROM reps WHERE email = ${call.sarahEmail}`)) as string;
    cleanup.add(`delete rep ${repId}`, () => db.pool.query(sql.unsafe`DELETE FROM reps WHERE id = ${repId}`));
    const stale = await tagOf(await api.get(`/reps/${repId}`));
    expect((await api.patch(`/reps/${repId}`, { role: 'se' })).status()).toBe(200);
    expect((await api.patch(`/reps/${repId}`, { role: 'csm' }, { headers: { 'If-Match': stale } })).status()).toBe(412);
    expect(await db.pool.oneFirst(sql.unsafe`SELECT role FROM reps WHERE id = ${repId}`)).toBe('se');

    const current = await tagOf(await api.get(`/reps/${repId}`));
    const changed = await api.patch(`/reps/${repId}`, { role: 'csm' }, { headers: { 'If-Match': current } });
    expect(changed.status()).toBe(200);
    expect(await tagOf(await api.get(`/reps/${repId}`))).toBe(await tagOf(changed));
  });

  test('two writers holding the same tag: the check runs under the row lock, so only the first passes', async ({ api, db, trackCall }) => {
    const call = await createCall(api, trackCall);
    const tag = await tagOf(await api.get(`/calls/${call.id}`));
    // The test's own session holds the call's row: both PATCHes get as far as locking it, and wait.
    const lock = await holdLock('SELECT id FROM calls WHERE id = $1 FOR UPDATE', [call.id]);
    let writers: Promise<APIResponse>[] = [];
    try {
      writers = ['Writer A', 'Writer B'].map((title) => api.patch(`/calls/${call.id}`, { title }, { headers: { 'If-Match': tag } }));
      await untilBlocked(lock, 2);
    } finally {
      await lock.release();
    }
    const statuses = (await Promise.all(writers)).map((response) => response.status()).sort();
    expect(statuses).toEqual([200, 412]);
    expect(['Writer A', 'Writer B']).toContain(await db.pool.oneFirst(sql.unsafe`SELECT title FROM calls WHERE id = ${call.id}`));
  });
});
