/**
 * Idempotency-Key on the POSTs that create (draft-ietf-httpapi-idempotency-key-header): replay,
 * 422 on reuse, 409 while the first request runs, per-`sub` keys, bounds, expiry, and the key
 * stored in the resource's own transaction (checked in the database).
 */
import { randomUUID } from 'node:crypto';
import { request as playwrightRequest } from '@playwright/test';
import pg from 'pg';
import type { Database } from '../db/pool.js';
import { ApiClient, expect, newCall, sql, test, uniqueEmail, type Cleanup } from './support/fixtures.js';
import { startGongSimulator } from './support/gong-simulator.js';
import { gongEnv, SIM_BASIC } from './support/gong-sync-cli.js';
import { holdLock, untilBlocked } from './support/locks.js';
import { startOwnServer } from './support/own-server.js';
import { scratchDatabase } from './support/scratch-database.js';
import { signToken } from './support/tokens.js';

/** A fresh key, deleted with its stored answer after the test. */
function newKey(cleanup: Cleanup, db: Database): string {
  const key = randomUUID();
  cleanup.add(`delete idempotency key ${key}`, () => db.pool.query(sql.unsafe`DELETE FROM idempotency_keys WHERE key = ${key}`));
  return key;
}

const keyed = (key: string) => ({ headers: { 'Idempotency-Key': `"${key}"` } });

async function createCall(api: ApiClient, trackCall: (id: string) => void, body = newCall()) {
  const response = await api.post('/calls', body);
  expect(response.status()).toBe(201);
  const call = await response.json();
  trackCall(call.id);
  return call as { id: string; speakers: { email: string }[] };
}

test.describe('idempotency keys', { tag: '@integration' }, () => {
  test('POST /calls: the same key and body replay the first answer, and nothing is created twice', async ({ api, db, cleanup, trackCall }) => {
    const key = newKey(cleanup, db);
    const body = newCall();
    const first = await api.post('/calls', body, keyed(key));
    expect(first.status()).toBe(201);
    expect(first.headers()['idempotent-replayed']).toBe('false');
    const call = await first.json();
    trackCall(call.id);

    // The draft's quoted form and the bare form are the same key.
    for (const field of [`"${key}"`, key]) {
      const again = await api.post('/calls', body, { headers: { 'Idempotency-Key': field } });
      expect(again.status()).toBe(201);
      expect(again.headers()['idempotent-replayed']).toBe('true');
      expect(again.headers()['location']).toBe(`/calls/${call.id}`);
      expect((await again.body()).toString()).toBe((await first.body()).toString());
    }
    expect(await db.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM calls WHERE gong_call_id = ${body.gong_call_id as string}`)).toBe(1);

    const stored = await db.pool.one(sql.unsafe`
      SELECT principal, response_status, response_location, expires_at >= created_at + interval '24 hours' AS kept_a_day
      FROM idempotency_keys WHERE key = ${key}`);
    expect(stored).toEqual({ principal: 'test-user', response_status: 201, response_location: `/calls/${call.id}`, kept_a_day: true });
    // Without a key, each POST is carried out (and says so).
    const { speakers: _, ...plain } = newCall();
    const unkeyed = await api.post('/calls', plain);
    trackCall((await unkeyed.json()).id);
    expect(unkeyed.headers()['idempotent-replayed']).toBe('false');
  });

  test('POST speakers and POST analyses replay too', async ({ api, db, cleanup, trackCall }) => {
    const call = await createCall(api, trackCall);
    const speakerKey = newKey(cleanup, db);
    const speaker = { name: 'Priya Raman', email: uniqueEmail('priya'), role: 'se', company_side: false };
    const first = await api.post(`/calls/${call.id}/speakers`, speaker, keyed(speakerKey));
    const again = await api.post(`/calls/${call.id}/speakers`, speaker, keyed(speakerKey));
    expect([first.status(), again.status()]).toEqual([201, 201]);
    expect(again.headers()['location']).toBe(first.headers()['location']);
    expect(await again.json()).toEqual(await first.json());
    expect(await db.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM speakers WHERE email = ${speaker.email}`)).toBe(1);

    const analysisKey = newKey(cleanup, db);
    const analysis = { rep_email: call.speakers[0]!.email, scores: { discovery: 70 }, analyst: 'coach', rubric_version: '1' };
    const created = await api.post(`/calls/${call.id}/analyses`, analysis, keyed(analysisKey));
    const replayed = await api.post(`/calls/${call.id}/analyses`, analysis, keyed(analysisKey));
    expect([created.status(), replayed.status()]).toEqual([201, 201]);
    expect(replayed.headers()['idempotent-replayed']).toBe('true');
    expect(await replayed.json()).toEqual(await created.json());
    expect(await db.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM analyses WHERE call_id = ${call.id}`)).toBe(1);
  });

  test('the same key with another body, or on another operation, is a 422 that does nothing', async ({ api, db, cleanup, trackCall }) => {
    const key = newKey(cleanup, db);
    const call = (await (await api.post('/calls', newCall(), keyed(key))).json()) as { id: string };
    trackCall(call.id);
    const other = newCall();
    const reused = await api.post('/calls', other, keyed(key));
    expect(reused.status()).toBe(422);
    expect((await reused.json()).detail).toContain('POST /calls');
    expect(await db.pool.exists(sql.unsafe`SELECT 1 FROM calls WHERE gong_call_id = ${other.gong_call_id as string}`)).toBe(false);

    const elsewhere = await api.post(`/calls/${call.id}/speakers`, { name: 'Priya', role: 'se', company_side: false }, keyed(key));
    expect(elsewhere.status()).toBe(422);
    expect(await db.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM speakers WHERE call_id = ${call.id}`)).toBe(2);
  });

  test('keys belong to the token\'s sub: another client\'s same key is its own', async ({ api, db, cleanup, trackCall }) => {
    const key = newKey(cleanup, db);
    const mine = await api.post('/calls', newCall(), keyed(key));
    trackCall((await mine.json()).id);
    const theirs = await api.as(signToken({ sub: `other-${randomUUID()}`, role: 'service' })).post('/calls', newCall(), keyed(key));
    expect(theirs.status()).toBe(201);
    expect(theirs.headers()['idempotent-replayed']).toBe('false');
    trackCall((await theirs.json()).id);
    expect(await db.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM idempotency_keys WHERE key = ${key}`)).toBe(2);
  });

  test('a key has 1 to 255 characters: longer, empty or with a quote inside is a 400 naming the header', async ({ api, db, cleanup, trackCall }) => {
    for (const key of ['k', 'k'.repeat(255)]) {
      cleanup.add(`delete key ${key.length}`, () => db.pool.query(sql.unsafe`DELETE FROM idempotency_keys WHERE principal = 'test-user' AND key = ${key}`));
      await db.pool.query(sql.unsafe`DELETE FROM idempotency_keys WHERE principal = 'test-user' AND key = ${key}`);
      const response = await api.post('/calls', newCall(), keyed(key));
      expect(response.status(), `a key of ${key.length}`).toBe(201);
      trackCall((await response.json()).id);
    }
    for (const field of ['"' + 'k'.repeat(256) + '"', 'k'.repeat(256), '""', '"a"b"', 'two words']) {
      const body = newCall();
      const response = await api.post('/calls', body, { headers: { 'Idempotency-Key': field } });
      expect(response.status(), `Idempotency-Key: ${field.slice(0, 20)}…`).toBe(400);
      expect((await response.json()).errors).toContainEqual(expect.objectContaining({ location: 'header' }));
      expect(await db.pool.exists(sql.unsafe`SELECT 1 FROM calls WHERE gong_call_id = ${body.gong_call_id as string}`)).toBe(false);
    }
  });

  test('while the first request with a key runs, a second gets 409; once it committed, the replay', async ({ api, db, cleanup, trackCall }) => {
    const call = await createCall(api, trackCall);
    const key = newKey(cleanup, db);
    const speaker = { name: 'Priya Raman', role: 'se', company_side: false };
    // The test's own session locks the call's row: the first request gets into its transaction
    // (taking the key) and waits there on the speaker's foreign key check.
    const lock = await holdLock('SELECT id FROM calls WHERE id = $1 FOR UPDATE', [call.id]);
    let first;
    try {
      first = api.post(`/calls/${call.id}/speakers`, speaker, keyed(key));
      await untilBlocked(lock, 1);
      const second = await api.post(`/calls/${call.id}/speakers`, speaker, keyed(key));
      expect(second.status()).toBe(409);
      expect((await second.json()).detail).toContain('still being processed');
      expect(await db.pool.exists(sql.unsafe`SELECT 1 FROM idempotency_keys WHERE key = ${key}`)).toBe(false);
    } finally {
      await lock.release();
    }
    const done = await first;
    expect(done.status()).toBe(201);
    const replay = await api.post(`/calls/${call.id}/speakers`, speaker, keyed(key));
    expect(replay.status()).toBe(201);
    expect(replay.headers()['idempotent-replayed']).toBe('true');
    expect(await replay.json()).toEqual(await done.json());
    expect(await db.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM speakers WHERE call_id = ${call.id} AND name = 'Priya Raman'`)).toBe(1);
  });

  test('a request that fails keeps no key: its retry is carried out, and the key is kept only with the resource', async ({ api, db, cleanup, trackCall }) => {
    const key = newKey(cleanup, db);
    const body = newCall();
    const existing = await createCall(api, trackCall, { ...newCall(), gong_call_id: body.gong_call_id });
    // A duplicate gong_call_id: the insert fails and the transaction rolls back with it.
    const failed = await api.post('/calls', body, keyed(key));
    expect(failed.status()).toBe(409);
    expect(await db.pool.exists(sql.unsafe`SELECT 1 FROM idempotency_keys WHERE key = ${key}`)).toBe(false);

    await db.pool.query(sql.unsafe`DELETE FROM calls WHERE id = ${existing.id}`);
    const retried = await api.post('/calls', body, keyed(key));
    expect(retried.status()).toBe(201);
    expect(retried.headers()['idempotent-replayed']).toBe('false');
    const call = await retried.json();
    trackCall(call.id);
    expect(await db.pool.oneFirst(sql.unsafe`SELECT response_location FROM idempotency_keys WHERE key = ${key}`)).toBe(`/calls/${call.id}`);

    const unknownCall = '00000000-0000-4000-8000-000000000000';
    const otherKey = newKey(cleanup, db);
    expect((await api.post(`/calls/${unknownCall}/speakers`, { name: 'X', role: 'se', company_side: false }, keyed(otherKey))).status()).toBe(404);
    expect(await db.pool.exists(sql.unsafe`SELECT 1 FROM idempotency_keys WHERE key = ${otherKey}`)).toBe(false);
  });

  test('an expired key counts as absent and is replaced; keyed requests sweep expired keys', async ({ api, db, cleanup, trackCall }) => {
    const key = newKey(cleanup, db);
    const stranger = `expired-${randomUUID()}`;
    cleanup.add('delete expired keys', () => db.pool.query(sql.unsafe`DELETE FROM idempotency_keys WHERE principal = ${stranger}`));
    const expired = (principal: string, k: string) => sql.unsafe`
      INSERT INTO idempotency_keys (principal, key, fingerprint, request_method, request_path, response_status, response_body, created_at, expires_at)
      VALUES (${principal}, ${k}, 'old', 'POST', '/calls', 201, '{}', now() - interval '25 hours', now() - interval '1 hour')`;
    await db.pool.query(expired('test-user', key));
    for (const n of [1, 2, 3]) await db.pool.query(expired(stranger, `k${n}`));

    // Another body under the key: not a 422, since the old use expired.
    const response = await api.post('/calls', newCall(), keyed(key));
    expect(response.status()).toBe(201);
    expect(response.headers()['idempotent-replayed']).toBe('false');
    trackCall((await response.json()).id);
    expect(await db.pool.oneFirst(sql.unsafe`SELECT expires_at > now() + interval '23 hours' FROM idempotency_keys WHERE key = ${key}`)).toBe(true);
    expect(await db.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM idempotency_keys WHERE principal = ${stranger}`)).toBe(0);
  });

  test('POST /sync/gong/runs (202, queued) takes a key too: the replay queues no second run', async ({ db }) => {
    // The shared server has no Gong credentials (every run is a 409 there): a server of its own, on a scratch database.
    const database = await scratchDatabase(db);
    const sim = await startGongSimulator({ calls: [], basic: SIM_BASIC });
    const server = await startOwnServer({ database: { url: database.url }, env: { ...gongEnv(sim), LOG_LEVEL: 'warn' } });
    const context = await playwrightRequest.newContext({ baseURL: server.baseURL, extraHTTPHeaders: { Accept: 'application/json, application/problem+json' } });
    try {
      const api = new ApiClient(context, signToken({ role: 'service' }));
      const window = { from: '2026-11-01T00:00:00Z', to: '2026-11-08T00:00:00Z' };
      const key = keyed(randomUUID());
      const first = await api.post('/sync/gong/runs', window, key);
      const again = await api.post('/sync/gong/runs', window, key);
      expect([first.status(), again.status()]).toEqual([202, 202]);
      expect([first.headers()['idempotent-replayed'], again.headers()['idempotent-replayed']]).toEqual(['false', 'true']);
      expect(again.headers()['location']).toBe(first.headers()['location']);
      expect((await again.body()).toString()).toBe((await first.body()).toString());
      expect((await api.post('/sync/gong/runs', { ...window, to: '2026-11-09T00:00:00Z' }, key)).status()).toBe(422);
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        expect((await client.query('SELECT count(*)::int AS n FROM gong_sync_runs')).rows[0].n).toBe(1);
      } finally {
        await client.end();
      }
    } finally {
      await context.dispose();
      await server.stop();
      await sim.close();
      await database.drop();
    }
  });
});
