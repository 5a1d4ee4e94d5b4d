import { createHash, generateKeyPairSync, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { expect, setupBody, sql, test, uniqueEmail, uniqueGongId } from './support/fixtures.js';
import { testEnvironment } from './support/test-environment.js';

function delivery(gongId: string, repEmail: string, overrides: Record<string, unknown> = {}) {
  return {
    isTest: false,
    callData: {
      metaData: { id: gongId, title: 'Webhook call', scheduled: '2026-11-05T10:00:00Z', duration: 1200, system: 'Zoom', ...overrides },
      parties: [
        { id: '1', emailAddress: repEmail, name: 'Webhook Rep', speakerId: '901', affiliation: 'Internal', userId: '77' },
        { id: '2', emailAddress: repEmail, name: 'Webhook Rep', speakerId: '901', affiliation: 'Internal' }, // listed twice by Gong
        { id: '3', emailAddress: null, name: 'Buyer', speakerId: '902', affiliation: 'External' },
      ],
    },
  };
}

/** A Gong signed-JWT header for exactly `body`. */
function signature(body: string, options: { key?: string; bodyHash?: string } = {}): string {
  const bodyHash = options.bodyHash ?? createHash('sha256').update(body).digest('hex');
  return jwt.sign({ webhook_url: 'https://example.test/webhooks/gong', body_sha256: bodyHash }, options.key ?? testEnvironment().gong.privateKey, {
    algorithm: 'RS256',
    expiresIn: 300,
  });
}

test.describe('Gong webhook', { tag: '@integration' }, () => {
  test('a signed delivery stores the call and its parties; a replay has no second effect', async ({ api, db, trackCall, cleanup }) => {
    const gongId = uniqueGongId();
    const email = uniqueEmail('hook');
    const body = JSON.stringify(delivery(gongId, email));
    const send = () =>
      api.as(null).fetch('POST', '/webhooks/gong', {
        data: body,
        headers: { 'Content-Type': 'application/json', Authorization: signature(body) },
      });
    const first = await send();
    expect(first.status()).toBe(200);
    const receipt = await first.json();
    trackCall(receipt.call_id);
    cleanup.add('delete webhook event', () => db.pool.query(sql.unsafe`DELETE FROM webhook_events WHERE delivery_id = ${receipt.delivery_id}`));
    cleanup.add('delete rep', () => db.pool.query(sql.unsafe`DELETE FROM reps WHERE email = ${email}`));
    expect(receipt).toMatchObject({ status: 'completed', replayed: false });
    expect(receipt.delivery_id).toBe(createHash('sha256').update(body).digest('hex'));

    const call = await (await api.get(`/calls/${receipt.call_id}`)).json();
    expect(call).toMatchObject({ gong_call_id: gongId, title: 'Webhook call', duration_seconds: 1200, call_type: 'other' });
    expect(call.speakers.map((s: Record<string, unknown>) => [s.name, s.email, s.role, s.company_side, s.gong_speaker_id])).toEqual([
      ['Webhook Rep', email, 'other', true, '901'],
      ['Buyer', null, 'prospect', false, '902'],
    ]);
    const event = await db.pool.one(sql.unsafe`
      SELECT status, signature_verified, gong_call_id FROM webhook_events WHERE delivery_id = ${receipt.delivery_id}`);
    expect(event).toEqual({ status: 'completed', signature_verified: true, gong_call_id: gongId });

    const replay = await send();
    expect(replay.status()).toBe(200);
    expect(await replay.json()).toEqual({ ...receipt, replayed: true });
    expect(await (await api.get(`/calls/${receipt.call_id}`)).json()).toEqual(call);
    expect(await db.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM webhook_events WHERE gong_call_id = ${gongId}`)).toBe(1);
  });

  test('a later delivery of the same call updates it and keeps our own fields', async ({ api, db, trackCall, cleanup }) => {
    const gongId = uniqueGongId();
    const email = uniqueEmail('hook');
    const key = testEnvironment().gong.urlKey;
    const post = (payload: unknown, id: string) =>
      api.as(null).fetch('POST', `/webhooks/gong?key=${key}`, { data: payload, headers: { 'X-Gong-Delivery-Id': id } });
    const firstId = randomUUID();
    const first = await setupBody(post(delivery(gongId, email), firstId), 200);
    trackCall(first.call_id);
    cleanup.add('delete rep', () => db.pool.query(sql.unsafe`DELETE FROM reps WHERE email = ${email}`));
    const secondId = randomUUID();
    cleanup.add('delete webhook events', () =>
      db.pool.query(sql.unsafe`DELETE FROM webhook_events WHERE delivery_id IN (${firstId}, ${secondId})`),
    );
    await setupBody(api.fetch('PATCH', `/calls/${first.call_id}`, { data: { call_type: 'negotiation', product: 'prefect' } }), 200);

    const second = await post(delivery(gongId, email, { title: 'Webhook call, renamed in Gong' }), secondId);
    expect(second.status()).toBe(200);
    expect((await second.json()).call_id).toBe(first.call_id);
    const call = await (await api.get(`/calls/${first.call_id}`)).json();
    expect(call).toMatchObject({ title: 'Webhook call, renamed in Gong', call_type: 'negotiation', product: 'prefect' });
    expect(call.speakers).toHaveLength(2);
    const verified = await db.pool.anyFirst(sql.unsafe`
      SELECT signature_verified FROM webhook_events WHERE delivery_id IN (${firstId}, ${secondId})`);
    expect(verified).toEqual([false, false]);
  });

  const refusals: [string, (body: string) => { path: string; headers: Record<string, string> }, RegExp][] = [
    ['no credentials', () => ({ path: '/webhooks/gong', headers: {} }), /Authenticate the delivery/],
    ['a wrong URL key', () => ({ path: '/webhooks/gong?key=not-the-key-at-all', headers: {} }), /key in the URL is wrong/],
    [
      'a JWT signed with another key',
      (body) => {
        const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
        return { path: '/webhooks/gong', headers: { Authorization: signature(body, { key: other }) } };
      },
      /does not verify/,
    ],
    [
      'a JWT for another body',
      (body) => ({ path: '/webhooks/gong', headers: { Authorization: signature(body, { bodyHash: 'f'.repeat(64) }) } }),
      /does not cover this body/,
    ],
  ];
  for (const [what, request, detail] of refusals) {
    test(`${what} is a 401 and stores nothing`, async ({ api, db }) => {
      const gongId = uniqueGongId();
      const body = JSON.stringify(delivery(gongId, uniqueEmail('nope')));
      const { path, headers } = request(body);
      const response = await api.as(null).fetch('POST', path, { data: body, headers: { 'Content-Type': 'application/json', ...headers } });
      expect(response.status()).toBe(401);
      expect((await response.json()).detail).toMatch(detail);
      expect(await db.pool.exists(sql.unsafe`SELECT 1 FROM webhook_events WHERE gong_call_id = ${gongId}`)).toBe(false);
      expect(await db.pool.exists(sql.unsafe`SELECT 1 FROM calls WHERE gong_call_id = ${gongId}`)).toBe(false);
    });
  }

  test('a test delivery from Gong is recorded but not ingested', async ({ api, db, cleanup }) => {
    const gongId = uniqueGongId();
    const payload = { ...delivery(gongId, uniqueEmail('test')), isTest: true };
    const response = await api.as(null).fetch('POST', `/webhooks/gong?key=${testEnvironment().gong.urlKey}`, { data: payload });
    expect(response.status()).toBe(200);
    const receipt = await response.json();
    cleanup.add('delete webhook event', () => db.pool.query(sql.unsafe`DELETE FROM webhook_events WHERE delivery_id = ${receipt.delivery_id}`));
    expect(receipt).toMatchObject({ status: 'completed', call_id: null, replayed: false });
    expect(await db.pool.exists(sql.unsafe`SELECT 1 FROM calls WHERE gong_call_id = ${gongId}`)).toBe(false);
  });

  test('a delivery without the call id is a 400', async ({ api }) => {
    const payload = { callData: { metaData: { title: 'No id', scheduled: '2026-11-05T10:00:00Z' } } };
    const response = await api.as(null).fetch('POST', `/webhooks/gong?key=${testEnvironment().gong.urlKey}`, { data: payload });
    expect(response.status()).toBe(400);
    expect((await response.json()).errors[0].path).toBe('/callData/metaData/id');
  });
});
