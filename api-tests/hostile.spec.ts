/**
 * What an attacker or a careless client sends from outside, and what it must get: malformed HTTP
 * answered as problem+json (not Node's bare 400), repeated Authorization or Content-Type refused
 * rather than read as the first one, bodies that are not UTF-8 or hold lone surrogates refused
 * rather than stored as U+FFFD, date-times past what RFC 3339 can state refused rather than
 * stored and then unreadable (a 500), and probes that ignore a query string rather than answer
 * a 400 they do not declare. Raw sockets (node:net) where no HTTP client would send the bytes.
 */
import net from 'node:net';
import type { Database } from '../db/pool.js';
import { expectMatchesContract, expectProtocolLevelProblem } from './support/contract.js';
import { expect, newCall, setupBody, sql, test, uniqueEmail, uniqueGongId } from './support/fixtures.js';
import { exchange as exchangeOn, parseAnswers, type RawAnswer } from './support/raw-http.js';
import { testEnvironment } from './support/test-environment.js';
import { signToken } from './support/tokens.js';

const BASE = new URL(testEnvironment().baseURL);
const ADMIN = signToken({ role: 'admin' });

/** Writes `bytes` on a fresh connection to the service and reads every answer until it closes the connection. */
const exchange = (bytes: string | Buffer) => exchangeOn(Number(BASE.port), bytes, { host: BASE.hostname });

/** A raw answer to a request of an operation, checked against the contract like any other. */
async function expectContractAnswer(answer: RawAnswer, method: string, path: string): Promise<void> {
  await expectMatchesContract(
    {
      url: () => new URL(path, BASE).toString(),
      status: () => answer.status,
      headers: () => answer.headers,
      body: async () => answer.body,
      json: async () => JSON.parse(answer.body.toString('utf8')),
    },
    method,
  );
}

const asResponse = (answer: RawAnswer) => ({ status: () => answer.status, headers: () => answer.headers, body: async () => answer.body });

/** A request head (and body) as bytes, exactly as written. */
function wire(method: string, path: string, headers: [string, string][], body = ''): string {
  return `${method} ${path} HTTP/1.1\r\nHost: ${BASE.host}\r\n${headers.map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n${body}`;
}

const auth: [string, string] = ['Authorization', `Bearer ${ADMIN}`];
const json: [string, string] = ['Content-Type', 'application/json'];

test.describe('malformed HTTP is answered as problem+json', { tag: '@integration' }, () => {
  const body = JSON.stringify(newCall());
  const malformed: [string, string][] = [
    ['Content-Length and Transfer-Encoding together', wire('POST', '/calls', [auth, json, ['Content-Length', '5'], ['Transfer-Encoding', 'chunked']], `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`)],
    ['two different Content-Lengths', wire('POST', '/calls', [auth, json, ['Content-Length', '5'], ['Content-Length', '6']], body)],
    ['an absurd Content-Length', wire('POST', '/calls', [auth, json, ['Content-Length', '99999999999999999999']], body)],
    ['a negative Content-Length', wire('POST', '/calls', [auth, json, ['Content-Length', '-1']], body)],
    ['a chunk size that is not hex', wire('POST', '/calls', [auth, json, ['Transfer-Encoding', 'chunked']], `zz\r\n${body}\r\n0\r\n\r\n`)],
    ['Transfer-Encoding: gzip (not chunked last)', wire('POST', '/calls', [auth, json, ['Transfer-Encoding', 'gzip']], body)],
    ['a lower-case method', wire('get', '/calls', [auth])],
    ['an unknown method token', wire('FOO', '/calls', [auth])],
    ['a folded header line', wire('GET', '/health', [['X-A', 'a\r\n b']])],
    ['a space before the colon', wire('GET', '/health', [['X-A ', 'a']])],
    ['raw spaces in the request target', wire('GET', '/transcripts/search?q=a b', [auth])],
    ['non-ASCII bytes in the request target', Buffer.concat([Buffer.from('GET /calls/'), Buffer.from([0xc3, 0xbc]), Buffer.from(` HTTP/1.1\r\nHost: ${BASE.host}\r\n\r\n`)]).toString('latin1')],
    ['an HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
    ['bare LF line ends', `GET /health HTTP/1.1\nHost: ${BASE.host}\n\n`],
    ['CONNECT', `CONNECT ${BASE.host} HTTP/1.1\r\nHost: ${BASE.host}\r\n\r\n`],
  ];
  for (const [what, bytes] of malformed) {
    test(`${what}: 400 problem+json with X-Request-Id, and the connection closed`, async () => {
      const { answers, closed } = await exchange(Buffer.from(bytes, 'latin1'));
      expect(answers, 'one answer').toHaveLength(1);
      expect(answers[0]!.status).toBe(400);
      await expectProtocolLevelProblem(asResponse(answers[0]!));
      expect(closed, 'the server closed the connection').toBe(true);
    });
  }

  test('headers over 16 KiB: 431 problem+json', async () => {
    const { answers } = await exchange(wire('GET', '/health', [['X-Big', 'a'.repeat(20_000)]]));
    expect(answers.map((answer) => answer.status)).toEqual([431]);
    await expectProtocolLevelProblem(asResponse(answers[0]!));
  });

  test('a broken request pipelined after a good one: the good one is answered first, then the 400', async () => {
    const { answers } = await exchange(`${wire('GET', '/health', [])}GARBAGE\r\n\r\n`);
    expect(answers.map((answer) => answer.status)).toEqual([200, 400]);
    await expectContractAnswer(answers[0]!, 'GET', '/health');
    await expectProtocolLevelProblem(asResponse(answers[1]!));
  });

  test('a broken chunked body of an unauthenticated request is still a problem (never a bare 400)', async () => {
    const { answers } = await exchange(wire('POST', '/calls', [json, ['Transfer-Encoding', 'chunked']], 'zz\r\n{}\r\n0\r\n\r\n'));
    expect(answers).toHaveLength(1);
    expect([400, 401]).toContain(answers[0]!.status);
    if (answers[0]!.status === 400) await expectProtocolLevelProblem(asResponse(answers[0]!));
    else await expectContractAnswer(answers[0]!, 'POST', '/calls');
  });

  test('Expect: 100-continue without a token: 401 at once, never "100 Continue" (the body is not invited)', async () => {
    const { answers } = await exchange(wire('POST', '/calls', [json, ['Content-Length', '1000000'], ['Expect', '100-continue']]));
    expect(answers.map((answer) => answer.status)).toEqual([401]);
    await expectContractAnswer(answers[0]!, 'POST', '/calls');
  });

  test('Expect: 100-continue with a token: "100 Continue", then the body is read and the call created', async ({ trackCall }) => {
    const body = JSON.stringify(newCall());
    const socket = net.connect(Number(BASE.port), BASE.hostname);
    const received: Buffer[] = [];
    const continued = new Promise<string>((resolve) => socket.once('data', (chunk) => resolve(chunk.toString('latin1'))));
    socket.on('data', (chunk) => received.push(chunk));
    const closed = new Promise((resolve) => socket.on('close', resolve));
    socket.write(wire('POST', '/calls', [auth, json, ['Content-Length', String(Buffer.byteLength(body))], ['Expect', '100-continue'], ['Connection', 'close']]));
    expect(await continued).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\n/);
    socket.write(body);
    await closed;
    const answers = parseAnswers(Buffer.concat(received).subarray('HTTP/1.1 100 Continue\r\n\r\n'.length));
    expect(answers.map((answer) => answer.status)).toEqual([201]);
    await expectContractAnswer(answers[0]!, 'POST', '/calls');
    trackCall(JSON.parse(answers[0]!.body.toString()).id);
  });

  test('an Expect other than 100-continue is ignored: the request is served', async () => {
    const { answers } = await exchange(wire('GET', '/calls?limit=1', [auth, ['Expect', '200-ok'], ['Connection', 'close']]));
    expect(answers.map((answer) => answer.status)).toEqual([200]);
    await expectContractAnswer(answers[0]!, 'GET', '/calls?limit=1');
  });
});

test.describe('repeated singleton headers are refused, not read as the first one', { tag: '@integration' }, () => {
  test('two Authorization headers, the first valid: 401 that says so', async () => {
    const { answers } = await exchange(wire('GET', '/calls?limit=1', [auth, ['Authorization', 'Bearer not-the-same'], ['Connection', 'close']]));
    expect(answers.map((answer) => answer.status)).toEqual([401]);
    await expectContractAnswer(answers[0]!, 'GET', '/calls?limit=1');
    expect(JSON.parse(answers[0]!.body.toString()).detail).toBe('Send one Authorization header, not several.');
  });

  test('two Content-Type headers, the first application/json: 415, and nothing is stored', async ({ db }) => {
    const call = newCall();
    const body = JSON.stringify(call);
    const { answers } = await exchange(
      wire('POST', '/calls', [auth, json, ['Content-Type', 'text/plain'], ['Content-Length', String(Buffer.byteLength(body))], ['Connection', 'close']], body),
    );
    expect(answers.map((answer) => answer.status)).toEqual([415]);
    await expectContractAnswer(answers[0]!, 'POST', '/calls');
    expect(JSON.parse(answers[0]!.body.toString()).detail).toContain('one Content-Type');
    expect(await db.pool.exists(sql.unsafe`SELECT 1 FROM calls WHERE gong_call_id = ${String(call.gong_call_id)}`)).toBe(false);
  });
});

test.describe('text that is not Unicode is refused, never stored as U+FFFD', { tag: '@integration' }, () => {
  test('a body with bytes that are not UTF-8: 400, and nothing is stored', async ({ api, db }) => {
    const call = newCall();
    const text = JSON.stringify({ ...call, title: 'TITLE' });
    const [before, after] = text.split('TITLE') as [string, string];
    const bytes = Buffer.concat([Buffer.from(before), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from(after)]);
    const response = await api.fetch('POST', '/calls', { data: bytes, headers: { 'Content-Type': 'application/json' } });
    expect(response.status()).toBe(400);
    expect((await response.json()).detail).toContain('not valid UTF-8');
    expect(await db.pool.exists(sql.unsafe`SELECT 1 FROM calls WHERE gong_call_id = ${String(call.gong_call_id)}`)).toBe(false);
  });

  for (const [what, raw, pointer] of [
    ['a lone high surrogate in the title', '"title":"Acme \\ud800 call"', '/title'],
    ['a lone low surrogate in a metadata key', '"title":"x","metadata":{"\\udfff":1}', '/metadata/\udfff'],
    ['a reversed pair deep in metadata', '"title":"x","metadata":{"a":["\\ude00\\ud83d"]}', '/metadata/a/0'],
  ] as const) {
    test(`${what}: 400 naming ${JSON.stringify(pointer)}, and nothing is stored`, async ({ api, db }) => {
      const gongId = String(newCall().gong_call_id);
      const body = `{"gong_call_id":"${gongId}","scheduled_at":"2026-11-02T15:00:00Z",${raw}}`;
      const response = await api.fetch('POST', '/calls', { data: Buffer.from(body), headers: { 'Content-Type': 'application/json' } });
      expect(response.status()).toBe(400);
      const problem = await response.json();
      expect(problem.errors).toContainEqual(expect.objectContaining({ location: 'body', path: pointer, message: expect.stringContaining('lone surrogate') }));
      expect(await db.pool.exists(sql.unsafe`SELECT 1 FROM calls WHERE gong_call_id = ${gongId}`)).toBe(false);
    });
  }

  test('a surrogate pair (an emoji as escapes) is stored intact', async ({ api, trackCall }) => {
    const gongId = String(newCall().gong_call_id);
    const body = `{"gong_call_id":"${gongId}","scheduled_at":"2026-11-02T15:00:00Z","title":"call \\ud83d\\ude00"}`;
    const response = await api.fetch('POST', '/calls', { data: Buffer.from(body), headers: { 'Content-Type': 'application/json' } });
    expect(response.status()).toBe(201);
    const call = await response.json();
    trackCall(call.id);
    expect(call.title).toBe('call 😀');
  });
});

test.describe('date-times outside what RFC 3339 can state are refused before they are stored', { tag: '@integration' }, () => {
  // Each is valid RFC 3339 text, but in UTC lies in year 10000 or in 1 BC: PostgreSQL would store
  // it, and the call could no longer be answered as the contract says (it was a 500).
  const outside = ['9999-12-31T23:00:00-05:00', '9999-12-31T23:59:59.9999999Z', '9999-12-31T23:59:60Z', '0001-01-01T00:00:00+01:00'];
  for (const when of outside) {
    test(`createCall with scheduled_at ${when}: 400 naming it, and nothing is stored`, async ({ api, db }) => {
      const call = newCall({ scheduled_at: when });
      const response = await api.post('/calls', call);
      expect(response.status()).toBe(400);
      expect((await response.json()).errors).toContainEqual({
        location: 'body',
        path: '/scheduled_at',
        message: 'must be an RFC 3339 date-time (e.g. 2026-11-02T15:00:00Z) between the years 0001 and 9999 in UTC',
      });
      expect(await db.pool.exists(sql.unsafe`SELECT 1 FROM calls WHERE gong_call_id = ${String(call.gong_call_id)}`)).toBe(false);
    });
  }

  test('updateCall with such a time: 400, and the call is unchanged', async ({ api, trackCall }) => {
    const created = await api.post('/calls', newCall());
    expect(created.status()).toBe(201);
    const call = await created.json();
    trackCall(call.id);
    const response = await api.patch(`/calls/${call.id}`, { scheduled_at: '9999-12-31T20:00:00-08:00' });
    expect(response.status()).toBe(400);
    expect((await (await api.get(`/calls/${call.id}`)).json()).scheduled_at).toBe(call.scheduled_at);
  });

  test('a query parameter with such a time: 400 naming it', async ({ api }) => {
    const response = await api.get(`/calls?scheduled_from=${encodeURIComponent('9999-12-31T23:00:00-05:00')}`);
    expect(response.status()).toBe(400);
    expect((await response.json()).errors).toContainEqual(expect.objectContaining({ location: 'query', path: '/scheduled_from' }));
  });

  for (const [when, stored] of [
    ['9999-12-31T23:59:59.999999Z', '9999-12-31T23:59:59.999999+00:00'],
    ['9999-12-31T18:59:59-05:00', '9999-12-31T23:59:59+00:00'],
    ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00+00:00'],
  ] as const) {
    test(`the edge ${when} is stored and read back as ${stored}`, async ({ api, trackCall }) => {
      const created = await api.post('/calls', newCall({ scheduled_at: when }));
      expect(created.status()).toBe(201);
      const call = await created.json();
      trackCall(call.id);
      expect(call.scheduled_at).toBe(stored);
      expect((await (await api.get(`/calls/${call.id}`)).json()).scheduled_at).toBe(stored);
    });
  }
});

test.describe('operations without parameters ignore a query string (they declare no 400)', { tag: '@integration' }, () => {
  for (const path of ['/health', '/ready', '/openapi.json', '/openapi.yaml', '/docs']) {
    test(`GET ${path}?probe=1&x=%zz answers as without it`, async ({ request }) => {
      const response = await request.get(`${path}?probe=1&x=%zz`, { failOnStatusCode: false });
      expect(response.status()).toBe(200);
    });
  }

  test('an operation with parameters still refuses one it does not declare', async ({ api }) => {
    const response = await api.get('/calls?probe=1');
    expect(response.status()).toBe(400);
    expect((await response.json()).errors).toContainEqual({ location: 'query', path: '/probe', message: 'is not a known property' });
  });
});

test.describe('keys of free-form objects are bounded (x-max-key-length), never stored at any length', { tag: '@integration' }, () => {
  const long = (length: number) => 'k'.repeat(length);

  test('createCall: a metadata key of 201 characters is a 400 naming /metadata; 200, or 200 emoji, is stored', async ({ api, db, trackCall }) => {
    const call = newCall({ metadata: { direction: 'Outbound', [long(201)]: 1 } });
    const refused = await api.post('/calls', call);
    expect(refused.status()).toBe(400);
    const problem = await refused.json();
    expect(problem.errors).toEqual([{ location: 'body', path: '/metadata', message: 'must NOT have keys longer than 200 characters (one has 201)' }]);
    expect(problem.detail).not.toContain(long(201));
    expect(await db.pool.exists(sql.unsafe`SELECT 1 FROM calls WHERE gong_call_id = ${String(call.gong_call_id)}`)).toBe(false);

    // Characters, as maxLength counts them: 200 emoji are 400 UTF-16 units.
    const metadata = { [long(200)]: 1, ['😀'.repeat(200)]: 2 };
    const stored = await api.post('/calls', newCall({ metadata }));
    expect(stored.status()).toBe(201);
    const created = await stored.json();
    trackCall(created.id);
    expect(created.metadata).toEqual(metadata);
  });

  test('a megabyte key is refused without being echoed', async ({ api }) => {
    const response = await api.patch(`/calls/00000000-0000-4000-8000-000000000000`, { metadata: { [long(900_000)]: true } });
    expect(response.status()).toBe(400);
    const text = await response.text();
    expect(text.length).toBeLessThan(2000);
    expect(JSON.parse(text).errors).toEqual([{ location: 'body', path: '/metadata', message: 'must NOT have keys longer than 200 characters (one has 900000)' }]);
  });

  test('createAnalysis: a scores dimension over 100 characters and a raw_output key over 200 are 400s naming each object', async ({ api, db, trackCall }) => {
    const body = newCall();
    const created = await api.post('/calls', body);
    expect(created.status()).toBe(201);
    const call = await created.json();
    trackCall(call.id);
    const analysis = {
      rep_email: (body.speakers as { email: string }[])[0]!.email,
      scores: { discovery: 80, [long(101)]: 70 },
      raw_output: { [long(201)]: 'x' },
      analyst: 'coach',
      rubric_version: '1',
    };
    const response = await api.post(`/calls/${call.id}/analyses`, analysis);
    expect(response.status()).toBe(400);
    expect((await response.json()).errors).toEqual([
      { location: 'body', path: '/scores', message: 'must NOT have keys longer than 100 characters (one has 101)' },
      { location: 'body', path: '/raw_output', message: 'must NOT have keys longer than 200 characters (one has 201)' },
    ]);
    expect(await db.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM analyses WHERE call_id = ${call.id}`)).toBe(0);
    const fits = await api.post(`/calls/${call.id}/analyses`, { ...analysis, scores: { [long(100)]: 70 }, raw_output: { [long(200)]: 'x' } });
    expect(fits.status()).toBe(201);
  });

  test('the Gong webhook: an extra key over 200 characters in the payload or a party is a 400 naming where', async ({ api }) => {
    const key = testEnvironment().gong.urlKey;
    const payload = (extra: Record<string, unknown>, party: Record<string, unknown> = {}) => ({
      ...extra,
      callData: { metaData: { id: String(newCall().gong_call_id), scheduled: '2026-11-05T10:00:00Z' }, parties: [{ id: '1', affiliation: 'Internal', ...party }] },
    });
    for (const [body, path] of [
      [payload({ [long(201)]: 1 }), '/'],
      [payload({}, { [long(201)]: 1 }), '/callData/parties/0'],
    ] as const) {
      const response = await api.as(null).post(`/webhooks/gong?key=${encodeURIComponent(key)}`, body);
      expect(response.status(), path).toBe(400);
      expect((await response.json()).errors).toEqual([{ location: 'body', path, message: 'must NOT have keys longer than 200 characters (one has 201)' }]);
    }
  });
});

test.describe('one person once per call: duplicates are refused, never stored twice or silently merged', { tag: '@integration' }, () => {
  const speaker = (email: string, extra: Record<string, unknown> = {}) => ({ name: 'Sarah Chen', email, role: 'ae', company_side: true, ...extra });
  const speakersOf = (db: Database, callId: string) =>
    db.pool.any(sql.unsafe`SELECT name, email, gong_speaker_id FROM speakers WHERE call_id = ${callId} ORDER BY added_order`);

  test('createCall with one email in two cases: 409, and nothing is stored', async ({ api, db }) => {
    const email = uniqueEmail('sarah');
    const call = newCall({ speakers: [speaker(email.toUpperCase()), speaker(email)] });
    const response = await api.post('/calls', call);
    expect(response.status()).toBe(409);
    expect((await response.json()).detail).toBe('Two speakers of one call cannot share an email address (compared case-insensitively).');
    expect(await db.pool.exists(sql.unsafe`SELECT 1 FROM calls WHERE gong_call_id = ${String(call.gong_call_id)}`)).toBe(false);
  });

  test('addSpeaker with a stored email in another case: 409, and the call keeps one speaker of that email', async ({ api, db, trackCall }) => {
    const call = await setupBody(api.post('/calls', newCall()), 201);
    trackCall(call.id);
    const email = call.speakers[0].email as string;
    const response = await api.post(`/calls/${call.id}/speakers`, speaker(email.toUpperCase(), { role: 'se' }));
    expect(response.status()).toBe(409);
    expect(await db.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM speakers WHERE call_id = ${call.id} AND lower(email) = ${email}`)).toBe(1);
    // The call stays upsertable by that email (a stored pair made every later upsert a 409).
    const upsert = await api.put(`/calls/by-gong-id/${call.gong_call_id}`, { title: call.title, scheduled_at: call.scheduled_at, speakers: [speaker(email, { name: 'Sarah C.' })] });
    expect(upsert.status()).toBe(200);
  });

  test('an upsert whose two speakers match one stored speaker (by email and by gong_speaker_id): 409 naming both, and nothing changes', async ({ api, db, trackCall }) => {
    const gongId = uniqueGongId();
    const [sarah, priya] = [uniqueEmail('sarah'), uniqueEmail('priya')];
    const base = { title: 'Acme call', scheduled_at: '2026-11-02T15:00:00Z' };
    const call = await setupBody(api.put(`/calls/by-gong-id/${gongId}`, { ...base, speakers: [speaker(sarah, { gong_speaker_id: '101' })] }), 201);
    trackCall(call.id);
    const before = await speakersOf(db, call.id);
    const response = await api.put(`/calls/by-gong-id/${gongId}`, {
      ...base,
      title: 'Acme call, renamed',
      speakers: [speaker(sarah, { name: 'Sarah C.' }), speaker(priya, { name: 'Priya Raman', gong_speaker_id: '101' })],
    });
    expect(response.status()).toBe(409);
    expect((await response.json()).detail).toBe(
      `speakers/0 and speakers/1 both match the call's stored speaker ${call.speakers[0].id} (by email or gong_speaker_id); ` +
        'send that person once, or correct the email or gong_speaker_id. Nothing was stored.',
    );
    expect(await speakersOf(db, call.id)).toEqual(before);
    expect(await db.pool.oneFirst(sql.unsafe`SELECT title FROM calls WHERE id = ${call.id}`)).toBe('Acme call');
  });

  test('an upsert sent again with two speakers known by name alone changes nothing (200, not a 409)', async ({ api, db, trackCall }) => {
    const body = {
      title: 'Acme call',
      scheduled_at: '2026-11-02T15:00:00Z',
      speakers: [{ name: 'Buyer', role: 'prospect', company_side: false }, { name: 'Buyer', role: 'prospect', company_side: false }],
    };
    const gongId = uniqueGongId();
    const call = await setupBody(api.put(`/calls/by-gong-id/${gongId}`, body), 201);
    trackCall(call.id);
    const again = await api.put(`/calls/by-gong-id/${gongId}`, body);
    expect(again.status()).toBe(200);
    expect((await speakersOf(db, call.id)).length).toBe(2);
  });

  test("a Gong delivery whose party takes another stored speaker's speaker id: a declared 409, recorded as failed, nothing changes", async ({ api, db, trackCall, cleanup }) => {
    const gongId = uniqueGongId();
    const [sarah, priya] = [uniqueEmail('sarah'), uniqueEmail('priya')];
    const call = await setupBody(
      api.put(`/calls/by-gong-id/${gongId}`, {
        title: 'Acme call',
        scheduled_at: '2026-11-02T15:00:00Z',
        speakers: [speaker(sarah, { gong_speaker_id: '101' }), speaker(priya, { name: 'Priya Raman', gong_speaker_id: '102' })],
      }),
      201,
    );
    trackCall(call.id);
    const before = await speakersOf(db, call.id);
    const deliveryId = `conflict-${gongId}`;
    cleanup.add('delete webhook event', () => db.pool.query(sql.unsafe`DELETE FROM webhook_events WHERE delivery_id = ${deliveryId}`));
    const response = await api.as(null).post(
      `/webhooks/gong?key=${encodeURIComponent(testEnvironment().gong.urlKey)}`,
      { callData: { metaData: { id: gongId, scheduled: '2026-11-02T15:00:00Z' }, parties: [{ id: '1', emailAddress: sarah, speakerId: '102', affiliation: 'Internal' }] } },
      { headers: { 'X-Gong-Delivery-Id': deliveryId } },
    );
    expect(response.status()).toBe(409);
    expect(await speakersOf(db, call.id)).toEqual(before);
    expect(await db.pool.oneFirst(sql.unsafe`SELECT status FROM webhook_events WHERE delivery_id = ${deliveryId}`)).toBe('failed');
  });

  test('a Gong delivery listing one stored person twice (by email, and by speaker id) is that person once, as the first entry says', async ({ api, db, trackCall, cleanup }) => {
    const gongId = uniqueGongId();
    const sarah = uniqueEmail('sarah');
    const call = await setupBody(
      api.put(`/calls/by-gong-id/${gongId}`, { title: 'Acme call', scheduled_at: '2026-11-02T15:00:00Z', speakers: [speaker(sarah, { gong_speaker_id: '101' })] }),
      201,
    );
    trackCall(call.id);
    const deliveryId = `twice-${gongId}`;
    cleanup.add('delete webhook event', () => db.pool.query(sql.unsafe`DELETE FROM webhook_events WHERE delivery_id = ${deliveryId}`));
    const parties = [
      { id: '1', emailAddress: sarah, name: 'Sarah C.', affiliation: 'Internal' },
      { id: '2', speakerId: '101', name: 'Sarah (phone)', affiliation: 'Internal' },
    ];
    for (let round = 0; round < 3; round += 1) {
      const response = await api.as(null).post(
        `/webhooks/gong?key=${encodeURIComponent(testEnvironment().gong.urlKey)}`,
        { callData: { metaData: { id: gongId, scheduled: '2026-11-02T15:00:00Z' }, parties } },
        { headers: { 'X-Gong-Delivery-Id': `${deliveryId}-${round}` } },
      );
      cleanup.add('delete webhook event', () => db.pool.query(sql.unsafe`DELETE FROM webhook_events WHERE delivery_id = ${`${deliveryId}-${round}`}`));
      expect(response.status()).toBe(200);
      expect(await speakersOf(db, call.id)).toEqual([{ name: 'Sarah C.', email: sarah, gong_speaker_id: '101' }]);
    }
  });
});

test.describe('a range ends after it starts', { tag: '@integration' }, () => {
  for (const [from, to] of [
    ['2026-12-01T00:00:00Z', '2026-11-01T00:00:00Z'],
    ['2026-11-01T01:00:00+01:00', '2026-11-01T00:00:00Z'],
  ] as const) {
    test(`listCalls with scheduled_from ${from} and scheduled_to ${to}: 400 naming scheduled_from`, async ({ api }) => {
      const response = await api.get(`/calls?scheduled_from=${encodeURIComponent(from)}&scheduled_to=${encodeURIComponent(to)}`);
      expect(response.status()).toBe(400);
      expect((await response.json()).errors).toEqual([{ location: 'query', path: '/scheduled_from', message: 'must be before scheduled_to' }]);
    });
  }

  test('listCalls with a range in order, or one bound, answers the page', async ({ api, trackCall }) => {
    const call = await setupBody(api.post('/calls', newCall({ scheduled_at: '2031-05-05T10:00:00Z' })), 201);
    trackCall(call.id);
    const found = await api.get(`/calls?scheduled_from=2031-05-05T10:00:00Z&scheduled_to=2031-05-05T10:00:01Z`);
    expect(found.status()).toBe(200);
    expect((await found.json()).data.map((c: { id: string }) => c.id)).toEqual([call.id]);
    expect((await api.get('/calls?scheduled_to=2031-05-05T10:00:00Z&limit=1')).status()).toBe(200);
  });
});
