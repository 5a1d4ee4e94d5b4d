/**
 * Issue 12's hostile-input reproductions that are about what the contract bounds and what the
 * validator lets through: arrays and objects at and over their stated bounds, ids PostgreSQL would
 * refuse (a `urn:uuid:` prefix passes ajv-formats' uuid), cursors whose members PostgreSQL would
 * refuse, and Swagger UI asset names that are Object.prototype members. Each is a 4xx naming
 * what to fix, never a 5xx.
 */
import { randomUUID } from 'node:crypto';
import { largestTranscripts, transcriptLimits } from '../scripts/bench-transcript-limits.js';
import { ApiClient, expect, newCall, sql, test, uniqueEmail } from './support/fixtures.js';
import { testEnvironment } from './support/test-environment.js';
import { signToken } from './support/tokens.js';

/** The transcript limits openapi.yaml states: sentences, text per sentence, body bytes. */
const LIMITS = transcriptLimits();
const GONG_SPEAKERS = ['6432345678555530067', '6432345678555530068'];

type Problem = { status: number; detail: string; errors?: { location: string; path: string; message: string }[] };

const speaker = (index: number) => ({ name: `Speaker ${index}`, email: uniqueEmail(`s${index}`), role: 'prospect', company_side: false });
const cursorOf = (position: unknown) => Buffer.from(JSON.stringify(position)).toString('base64url');

async function createCall(api: ApiClient, trackCall: (id: string) => void, overrides: Record<string, unknown> = {}) {
  const response = await api.post('/calls', newCall(overrides));
  expect(response.status(), JSON.stringify(await response.json())).toBe(201);
  const call = await response.json();
  trackCall(call.id);
  return call as { id: string; speakers: { email: string }[] };
}

test.describe('arrays and objects at and over the bounds the contract states', { tag: '@integration' }, () => {
  test('100 speakers (the bound) are created; 101 are a 400 naming /speakers', async ({ api, trackCall }) => {
    const call = await createCall(api, trackCall, { speakers: Array.from({ length: 100 }, (_, i) => speaker(i)) });
    expect(call.speakers).toHaveLength(100);
    const over = await api.post('/calls', newCall({ speakers: Array.from({ length: 101 }, (_, i) => speaker(i)) }));
    expect(over.status()).toBe(400);
    expect(((await over.json()) as Problem).errors).toContainEqual(expect.objectContaining({ location: 'body', path: '/speakers', message: 'must NOT have more than 100 items' }));
  });

  for (const count of [10_000, 50_000]) {
    test(`${count.toLocaleString('en')} empty speakers are a 400, not a 5xx`, async ({ api }) => {
      const response = await api.post('/calls', newCall({ speakers: Array.from({ length: count }, () => ({})) }));
      expect(response.status()).toBe(400);
      expect(((await response.json()) as Problem).errors).toContainEqual(expect.objectContaining({ location: 'body', path: '/speakers' }));
    });
  }

  test('metadata with 100 top-level members is stored; 101 are a 400 naming /metadata', async ({ api, trackCall }) => {
    const members = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`field_${i}`, i]));
    await createCall(api, trackCall, { metadata: members(100) });
    const over = await api.post('/calls', newCall({ metadata: members(101) }));
    expect(over.status()).toBe(400);
    expect(((await over.json()) as Problem).errors).toContainEqual(expect.objectContaining({ location: 'body', path: '/metadata' }));
  });
});

test.describe('the largest transcript the contract allows is served; one sentence more is a 400', { tag: '@integration' }, () => {
  async function transcriptCall(api: ApiClient, trackCall: (id: string) => void) {
    return createCall(api, trackCall, {
      speakers: GONG_SPEAKERS.map((id, i) => ({ ...speaker(i), company_side: i === 0, role: i === 0 ? 'ae' : 'prospect', gong_speaker_id: id })),
    });
  }

  test(`both largest bodies (${LIMITS.sentences} sentences; and as many bytes as the body limit takes) are stored whole`, async ({ api, db, trackCall }) => {
    expect(LIMITS.sentences).toBeGreaterThan(0);
    for (const shape of largestTranscripts(LIMITS, GONG_SPEAKERS)) {
      const call = await transcriptCall(api, trackCall);
      expect(Buffer.byteLength(shape.body)).toBeLessThanOrEqual(LIMITS.bodyBytes);
      const response = await api.fetch('PUT', `/calls/${call.id}/transcript`, { data: Buffer.from(shape.body), headers: { 'Content-Type': 'application/json' } });
      expect(response.status(), shape.name).toBe(200);
      expect((await response.json()).segment_count, shape.name).toBe(LIMITS.sentences);
      expect(await db.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM transcripts WHERE call_id = ${call.id}`), shape.name).toBe(LIMITS.sentences);
    }
  });

  test('one sentence over the bound, across monologues, is a 400 naming the body; the stored transcript stays', async ({ api, db, trackCall }) => {
    const call = await transcriptCall(api, trackCall);
    const sentences = (count: number, from: number) => Array.from({ length: count }, (_, i) => ({ start: (from + i) * 1000, end: (from + i) * 1000 + 900, text: 'Yes.' }));
    const half = LIMITS.sentences / 2;
    const atBound = [
      { speakerId: GONG_SPEAKERS[0]!, sentences: sentences(half, 0) },
      { speakerId: GONG_SPEAKERS[1]!, sentences: sentences(LIMITS.sentences - half, half) },
    ];
    expect((await api.put(`/calls/${call.id}/transcript`, atBound)).status()).toBe(200);
    const over = [...atBound, { speakerId: GONG_SPEAKERS[0]!, sentences: sentences(1, LIMITS.sentences) }];
    const response = await api.put(`/calls/${call.id}/transcript`, over);
    expect(response.status()).toBe(400);
    const problem = (await response.json()) as Problem;
    expect(problem.errors).toEqual([{ location: 'body', path: '/', message: `must NOT have more than ${LIMITS.sentences} sentences in all (has ${LIMITS.sentences + 1})` }]);
    expect(await db.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM transcripts WHERE call_id = ${call.id}`)).toBe(LIMITS.sentences);
  });
});

test.describe('ids and cursors PostgreSQL would refuse are refused by the contract first', { tag: '@integration' }, () => {
  for (const role of ['rep', 'admin'] as const) {
    test(`as ${role}: a urn:uuid: id is a 400 naming the parameter, on every operation that takes one`, async ({ api, trackCall }) => {
      const call = await createCall(api, trackCall);
      const caller = api.as(signToken({ role, email: call.speakers[0]!.email }));
      const urn = `urn:uuid:${call.id}`;
      const cases: [string, string, string][] = [
        [`/calls/${urn}`, 'path', '/call_id'],
        [`/calls/${urn}/transcript`, 'path', '/call_id'],
        [`/calls/${urn}/metrics`, 'path', '/call_id'],
        [`/calls/${urn}/analyses`, 'path', '/call_id'],
        [`/calls/${call.id}/speakers/${urn}`, 'path', '/speaker_id'],
        [`/analyses/${urn}`, 'path', '/analysis_id'],
        [`/reps/${urn}`, 'path', '/rep_id'],
        [`/reps/${urn}/insights`, 'path', '/rep_id'],
        [`/transcripts/search?q=pipeline&call_id=${encodeURIComponent(urn)}`, 'query', '/call_id'],
      ];
      for (const [path, location, pointer] of cases) {
        const response = await caller.get(path);
        expect(response.status(), `GET ${path}`).toBe(400);
        expect(((await response.json()) as Problem).errors, `GET ${path}`).toContainEqual(expect.objectContaining({ location, path: pointer }));
      }
      // Braces, no hyphens: forms PostgreSQL takes but the contract does not state.
      for (const odd of [`{${call.id}}`, call.id.replace(/-/g, ''), `${call.id}\n`]) {
        const response = await caller.get(`/calls/${encodeURIComponent(odd)}`);
        expect(response.status(), `GET /calls/${JSON.stringify(odd)}`).toBe(400);
      }
    });
  }

  test('a search cursor whose sequence number is 1e308, 1.5, negative or a string is a 400 naming the cursor', async ({ api }) => {
    for (const number of [1e308, 1.5, -1, 2 ** 31, '7']) {
      const cursor = cursorOf(['2026-11-02T15:00:00+00:00', randomUUID(), number]);
      const response = await api.get(`/transcripts/search?q=pipeline&cursor=${cursor}`);
      expect(response.status(), `sequence number ${number}`).toBe(400);
      expect(((await response.json()) as Problem).errors).toEqual([expect.objectContaining({ location: 'query', path: '/cursor' })]);
    }
    // The bound itself is a valid position (nothing after it).
    const last = await api.get(`/transcripts/search?q=pipeline&cursor=${cursorOf(['2026-11-02T15:00:00+00:00', randomUUID(), 2 ** 31 - 1])}`);
    expect(last.status()).toBe(200);
  });

  test('cursors with a date PostgreSQL refuses, or a NUL in text, are a 400 naming the cursor', async ({ api, trackCall }) => {
    const call = await createCall(api, trackCall);
    const cases: [string, unknown][] = [
      ['/calls', ['2026-02-31T00:00:00+00:00', randomUUID()]],
      ['/calls', ['1', randomUUID()]],
      ['/calls', ['May 5, 2026', randomUUID()]],
      ['/calls', ['0000-01-01T00:00:00+00:00', randomUUID()]],
      [`/calls/${call.id}/analyses`, ['2026-11-02T25:00:00+00:00', randomUUID()]],
      ['/reps', ['a\u0000b']],
    ];
    for (const [path, position] of cases) {
      const response = await api.get(`${path}?cursor=${cursorOf(position)}`);
      expect(response.status(), `${path} at ${JSON.stringify(position)}`).toBe(400);
      expect(((await response.json()) as Problem).errors).toEqual([expect.objectContaining({ location: 'query', path: '/cursor' })]);
    }
  });
});

test.describe('Swagger UI asset names that are Object.prototype members', { tag: '@integration' }, () => {
  const NAMES = Object.getOwnPropertyNames(Object.prototype);

  test(`GET /docs/assets/<name> is a 404 problem for each of ${NAMES.length} names`, async ({ api }) => {
    expect(NAMES).toEqual(expect.arrayContaining(['__proto__', 'constructor', 'toString']));
    for (const name of NAMES) {
      const response = await api.as(null).get(`/docs/assets/${name}`);
      expect(response.status(), name).toBe(404);
    }
    // A real asset still loads.
    expect((await api.as(null).get('/docs/assets/swagger-ui.css')).status()).toBe(200);
  });

  test('HEAD /docs/assets/<name> is a 404 too', async ({ playwright, baseURL }) => {
    // HEAD answers carry no body for the contract validator to read: status and type only.
    const raw = await playwright.request.newContext({ baseURL });
    for (const name of NAMES) {
      const response = await raw.head(`/docs/assets/${name}`);
      expect(response.status(), name).toBe(404);
      expect(response.headers()['content-type'], name).toMatch(/^application\/problem\+json/);
    }
    await raw.dispose();
  });
});

test.describe('a Gong delivery at its bounds', { tag: '@integration' }, () => {
  test('100 parties, two of them one Gong speaker under different emails, two with an empty speaker id, are stored without a 409', async ({ api, db, trackCall, cleanup }) => {
    const gongCallId = String(BigInt(Date.now()) * 1000n + BigInt(Math.floor(Math.random() * 1000)));
    const deliveryId = randomUUID();
    cleanup.add('delete webhook event', () => db.pool.query(sql.unsafe`DELETE FROM webhook_events WHERE delivery_id = ${deliveryId}`));
    const parties = Array.from({ length: 100 }, (_, i) => ({
      id: String(i),
      emailAddress: uniqueEmail(`party${i}`),
      name: `Party ${i}`,
      // The last entry is the first person again as Gong's speaker, under another address; two have an empty speaker id.
      speakerId: i === 99 ? '7000000000000000000' : i >= 97 ? '' : String(7000000000000000000n + BigInt(i)),
      affiliation: i % 2 ? 'External' : 'Internal',
    }));
    const emails = parties.map((party) => party.emailAddress.toLowerCase());
    cleanup.add('delete reps', () => db.pool.query(sql.unsafe`DELETE FROM reps WHERE email = ANY(${sql.array(emails, 'text')})`));
    const payload = { isTest: false, callData: { metaData: { id: gongCallId, title: 'Big meeting', scheduled: '2026-11-02T15:00:00Z' }, parties } };
    const response = await api.as(null).fetch('POST', `/webhooks/gong?key=${testEnvironment().gong.urlKey}`, { data: payload, headers: { 'X-Gong-Delivery-Id': deliveryId } });
    expect(response.status()).toBe(200);
    const receipt = await response.json();
    trackCall(receipt.call_id);
    const call = await (await api.get(`/calls/${receipt.call_id}`)).json();
    expect(call.speakers).toHaveLength(99);
  });
});
