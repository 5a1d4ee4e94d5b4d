/**
 * Gong webhook replays (issue 12 item 10): a signed delivery is identified by what its signature
 * covers, the signature must be fresh, and an older version of a call never overwrites a newer one.
 */
import { createHash, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Database } from '../db/pool.js';
import { expect, sql, test, uniqueEmail, uniqueGongId, type ApiClient, type Cleanup } from './support/fixtures.js';
import { testEnvironment } from './support/test-environment.js';

function delivery(gongId: string, repEmail: string, title: string) {
  return {
    isTest: false,
    callData: {
      metaData: { id: gongId, title, scheduled: '2026-11-05T10:00:00Z', duration: 1200 },
      parties: [{ id: '1', emailAddress: repEmail, name: 'Replay Rep', speakerId: '901', affiliation: 'Internal' }],
    },
  };
}

/** Gong's signed-JWT header for `body`, signed `ageSeconds` ago; `claims` adds or removes (undefined) claims. */
function signature(body: string, options: { ageSeconds?: number; claims?: Record<string, unknown> } = {}): string {
  const iat = Math.floor(Date.now() / 1000) - (options.ageSeconds ?? 0);
  const payload: Record<string, unknown> = {
    webhook_url: 'https://example.test/webhooks/gong',
    body_sha256: createHash('sha256').update(body).digest('hex'),
    iat,
    exp: iat + 300,
    ...options.claims,
  };
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
  // jsonwebtoken keeps a given iat; noTimestamp only so that a removed one stays out.
  return jwt.sign(payload, testEnvironment().gong.privateKey, { algorithm: 'RS256', noTimestamp: payload.iat === undefined });
}

function post(api: ApiClient, body: string, authorization: string, deliveryId = randomUUID()) {
  return api.as(null).fetch('POST', '/webhooks/gong', {
    data: body,
    headers: { 'Content-Type': 'application/json', Authorization: authorization, 'X-Gong-Delivery-Id': deliveryId },
  });
}

/** Deletes the call's deliveries and the rep the webhook creates, after the test. */
function forget(cleanup: Cleanup, db: Database, gongId: string, email: string) {
  cleanup.add('delete webhook events', () => db.pool.query(sql.unsafe`DELETE FROM webhook_events WHERE gong_call_id = ${gongId}`));
  cleanup.add('delete rep', () => db.pool.query(sql.unsafe`DELETE FROM reps WHERE email = ${email}`));
}

test.describe('Gong webhook replays', { tag: '@integration' }, () => {
  test('a captured signed delivery re-sent with a new X-Gong-Delivery-Id is a replay: the newer version stays', async ({ api, db, trackCall, cleanup }) => {
    const gongId = uniqueGongId();
    const email = uniqueEmail('replay');
    forget(cleanup, db, gongId, email);
    const v1 = JSON.stringify(delivery(gongId, email, 'Version 1'));
    const v1Signature = signature(v1, { ageSeconds: 30 });
    const first = await (await post(api, v1, v1Signature)).json();
    trackCall(first.call_id);
    expect(first).toMatchObject({ status: 'completed', replayed: false, superseded: false });
    expect(first.delivery_id).toBe(createHash('sha256').update(v1).digest('hex')); // what the signature covers

    const v2 = JSON.stringify(delivery(gongId, email, 'Version 2'));
    expect((await (await post(api, v2, signature(v2))).json()).replayed).toBe(false);

    // The attacker's copy of version 1, same signature, another (unsigned) delivery id.
    const replay = await post(api, v1, v1Signature, randomUUID());
    expect(replay.status()).toBe(200);
    expect(await replay.json()).toEqual({ ...first, replayed: true });
    expect((await (await api.get(`/calls/${first.call_id}`)).json()).title).toBe('Version 2');
    expect(await db.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM webhook_events WHERE gong_call_id = ${gongId}`)).toBe(2);
  });

  test('an older version that arrives after a newer one is recorded as superseded and changes nothing', async ({ api, db, trackCall, cleanup }) => {
    const gongId = uniqueGongId();
    const email = uniqueEmail('late');
    forget(cleanup, db, gongId, email);
    const v1 = JSON.stringify(delivery(gongId, email, 'Version 1'));
    const v1Signature = signature(v1, { ageSeconds: 120 }); // Gong signed it first…
    const v2 = JSON.stringify(delivery(gongId, email, 'Version 2'));
    const second = await (await post(api, v2, signature(v2, { ageSeconds: 10 }))).json(); // …but this one arrives first
    trackCall(second.call_id);
    expect(second).toMatchObject({ status: 'completed', replayed: false, superseded: false });

    const late = await post(api, v1, v1Signature);
    expect(late.status()).toBe(200);
    expect(await late.json()).toMatchObject({ status: 'completed', call_id: second.call_id, replayed: false, superseded: true });
    expect((await (await api.get(`/calls/${second.call_id}`)).json()).title).toBe('Version 2');
    // Its repeat reports the same outcome.
    expect(await (await post(api, v1, v1Signature)).json()).toMatchObject({ replayed: true, superseded: true });

    // A newer version still applies.
    const v3 = JSON.stringify(delivery(gongId, email, 'Version 3'));
    expect(await (await post(api, v3, signature(v3))).json()).toMatchObject({ superseded: false });
    expect((await (await api.get(`/calls/${second.call_id}`)).json()).title).toBe('Version 3');
  });

  const stale: [string, Parameters<typeof signature>[1], RegExp][] = [
    ['without exp', { claims: { exp: undefined } }, /no expiry \(exp\)/],
    ['without iat', { claims: { iat: undefined, exp: Math.floor(Date.now() / 1000) + 300 } }, /no signing time \(iat\)/],
    ['signed more than 5 minutes ago', { ageSeconds: 301, claims: { exp: Math.floor(Date.now() / 1000) + 300 } }, /within the last 5 minutes/],
    ['signed more than 5 minutes ahead', { ageSeconds: -301 }, /within the last 5 minutes/],
  ];
  for (const [what, options, detail] of stale) {
    test(`a signature ${what} is a 401 and stores nothing`, async ({ api, db }) => {
      const gongId = uniqueGongId();
      const body = JSON.stringify(delivery(gongId, uniqueEmail('stale'), 'Stale'));
      const response = await post(api, body, signature(body, options));
      expect(response.status()).toBe(401);
      expect((await response.json()).detail).toMatch(detail);
      expect(await db.pool.exists(sql.unsafe`SELECT 1 FROM webhook_events WHERE gong_call_id = ${gongId}`)).toBe(false);
      expect(await db.pool.exists(sql.unsafe`SELECT 1 FROM calls WHERE gong_call_id = ${gongId}`)).toBe(false);
    });
  }
});
