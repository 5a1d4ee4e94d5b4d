import { randomBytes } from 'node:crypto';
import { expect, newCall, setupBody, sql, test, uniqueEmail, type ApiClient } from './support/fixtures.js';
import { signToken } from './support/tokens.js';

type Sentence = { start: number; end: number; text: string };
type Monologue = { speakerId: string; topic?: string | null; sentences: Sentence[] };

const SARAH = '6432345678555530067'; // ae, company side
const DAN = '6432345678555530068'; // prospect, customer side
const UNKNOWN_CALL = '00000000-0000-4000-8000-000000000000';

/** A call whose speakers carry Gong speaker ids; returns its id and the speakers' emails. */
async function createCall(
  api: ApiClient,
  trackCall: (id: string) => void,
  extraSpeakers: unknown[] = [],
  fields: Record<string, unknown> = {},
) {
  const sarah = uniqueEmail('sarah');
  const dan = uniqueEmail('dan');
  const response = await api.post(
    '/calls',
    newCall({
      ...fields,
      speakers: [
        { name: 'Sarah Chen', email: sarah, role: 'ae', company_side: true, gong_speaker_id: SARAH },
        { name: 'Dan Ortiz', email: dan, role: 'prospect', company_side: false, gong_speaker_id: DAN },
        ...extraSpeakers,
      ],
    }),
  );
  expect(response.status()).toBe(201);
  const call = await response.json();
  trackCall(call.id);
  const speakerId = (name: string) => (call.speakers as { id: string; name: string }[]).find((s) => s.name === name)!.id;
  return { id: call.id as string, title: call.title as string, sarah, dan, sarahId: speakerId('Sarah Chen'), danId: speakerId('Dan Ortiz') };
}

function putTranscript(api: ApiClient, callId: string, transcript: unknown) {
  return api.fetch('PUT', `/calls/${callId}/transcript`, { data: transcript });
}

/** A test's setup: the transcript must be stored (200). */
function storeTranscript(api: ApiClient, callId: string, transcript: unknown) {
  return setupBody(putTranscript(api, callId, transcript), 200);
}

/** A made-up word no other test (or English) uses, so searches see only this test's rows. */
function uniqueWord(): string {
  return 'zq' + [...randomBytes(6)].map((b) => String.fromCharCode(97 + (b % 26))).join('');
}

const twoMonologues: Monologue[] = [
  {
    speakerId: SARAH,
    topic: 'Introduction',
    sentences: [
      { start: 0, end: 4200, text: 'Thanks for making the time today.' },
      { start: 4200, end: 9100, text: 'What made you look at workflow tools this quarter?' },
    ],
  },
  {
    speakerId: DAN,
    sentences: [{ start: 9800, end: 21000, text: 'Our nightly jobs keep failing and nobody notices until morning.' }],
  },
];

test.describe('transcripts API', { tag: '@integration' }, () => {
  test('PUT stores one row per sentence in order, resolves speakers and stores talk time', async ({ api, db, trackCall }) => {
    const call = await createCall(api, trackCall);
    const response = await putTranscript(api, call.id, twoMonologues);
    expect(response.status()).toBe(200);
    // 9.1 s of Sarah and 11.2 s of Dan out of 20.3 s: 44.83 % and 55.17 %.
    expect(await response.json()).toEqual({
      call_id: call.id,
      segment_count: 3,
      duration_ms: 21000,
      unmatched_speaker_ids: [],
      speakers: [
        { speaker_id: call.sarahId, name: 'Sarah Chen', talk_time_seconds: 9.1, talk_time_percentage: 44.83 },
        { speaker_id: call.danId, name: 'Dan Ortiz', talk_time_seconds: 11.2, talk_time_percentage: 55.17 },
      ],
    });

    const rows = await db.pool.any(sql.unsafe`
      SELECT sequence_number, speaker_id, gong_speaker_id, start_time_ms::int, end_time_ms::int, text, topics, sentiment, chunk_metadata
      FROM transcripts WHERE call_id = ${call.id} ORDER BY sequence_number`);
    expect(rows).toEqual([
      {
        sequence_number: 0, speaker_id: call.sarahId, gong_speaker_id: SARAH, start_time_ms: 0, end_time_ms: 4200,
        text: 'Thanks for making the time today.', topics: ['Introduction'], sentiment: null,
        chunk_metadata: { start_ms: 0, end_ms: 4200, duration_ms: 4200 },
      },
      {
        sequence_number: 1, speaker_id: call.sarahId, gong_speaker_id: SARAH, start_time_ms: 4200, end_time_ms: 9100,
        text: 'What made you look at workflow tools this quarter?', topics: ['Introduction'], sentiment: null,
        chunk_metadata: { start_ms: 4200, end_ms: 9100, duration_ms: 4900 },
      },
      {
        sequence_number: 2, speaker_id: call.danId, gong_speaker_id: DAN, start_time_ms: 9800, end_time_ms: 21000,
        text: 'Our nightly jobs keep failing and nobody notices until morning.', topics: [], sentiment: null,
        chunk_metadata: { start_ms: 9800, end_ms: 21000, duration_ms: 11200 },
      },
    ]);
    const speakers = await db.pool.any(sql.unsafe`
      SELECT name, talk_time_seconds, talk_time_percentage FROM speakers WHERE call_id = ${call.id} ORDER BY name`);
    expect(speakers).toEqual([
      { name: 'Dan Ortiz', talk_time_seconds: 11.2, talk_time_percentage: 55.17 },
      { name: 'Sarah Chen', talk_time_seconds: 9.1, talk_time_percentage: 44.83 },
    ]);
  });

  test('a second PUT replaces the whole transcript and recomputes talk time', async ({ api, db, trackCall }) => {
    const call = await createCall(api, trackCall);
    expect((await putTranscript(api, call.id, twoMonologues)).status()).toBe(200);
    const oldIds = (await db.pool.anyFirst(sql.unsafe`SELECT id FROM transcripts WHERE call_id = ${call.id}`)) as string[];
    expect(oldIds).toHaveLength(3);

    const response = await putTranscript(api, call.id, [
      { speakerId: DAN, topic: 'Pricing', sentences: [{ start: 1000, end: 3000, text: 'What does it cost?' }] },
    ]);
    expect(response.status()).toBe(200);
    const ingest = await response.json();
    expect(ingest).toMatchObject({ segment_count: 1, duration_ms: 2000 });
    // Sarah no longer speaks: 0 s and 0 %, not her old figures.
    expect(ingest.speakers).toEqual([
      { speaker_id: call.sarahId, name: 'Sarah Chen', talk_time_seconds: 0, talk_time_percentage: 0 },
      { speaker_id: call.danId, name: 'Dan Ortiz', talk_time_seconds: 2, talk_time_percentage: 100 },
    ]);

    const rows = await db.pool.any(sql.unsafe`
      SELECT id, sequence_number, text, topics FROM transcripts WHERE call_id = ${call.id}`);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ sequence_number: 0, text: 'What does it cost?', topics: ['Pricing'] });
    expect(oldIds).not.toContain(rows[0]!.id);
    const stored = await db.pool.oneFirst(sql.unsafe`
      SELECT talk_time_seconds FROM speakers WHERE id = ${call.sarahId}`);
    expect(stored).toBe(0);
  });

  test('a sentence ending before it starts is a 400 naming it, and the previous transcript stays', async ({ api, db, trackCall }) => {
    const call = await createCall(api, trackCall);
    expect((await putTranscript(api, call.id, twoMonologues)).status()).toBe(200);
    const before = await db.pool.any(sql.unsafe`SELECT id, text FROM transcripts WHERE call_id = ${call.id} ORDER BY sequence_number`);

    const response = await putTranscript(api, call.id, [
      { speakerId: SARAH, sentences: [{ start: 0, end: 1000, text: 'Fine.' }] },
      { speakerId: DAN, sentences: [{ start: 2000, end: 3000, text: 'Fine.' }, { start: 5000, end: 4000, text: 'Backwards.' }] },
    ]);
    expect(response.status()).toBe(400);
    const problem = await response.json();
    expect(problem.detail).toContain('body/1/sentences/1');
    expect(problem.detail).toContain('ends (4000 ms) before it starts (5000 ms)');
    expect(problem.errors).toEqual([{ location: 'body', path: '/1/sentences/1/end', message: 'ends (4000 ms) before it starts (5000 ms)' }]);

    const after = await db.pool.any(sql.unsafe`SELECT id, text FROM transcripts WHERE call_id = ${call.id} ORDER BY sequence_number`);
    expect(after).toEqual(before);
  });

  test('a PUT the database rejects halfway rolls back: the previous transcript and talk time stay', async ({ api, db, trackCall }) => {
    const call = await createCall(api, trackCall);
    expect((await putTranscript(api, call.id, twoMonologues)).status()).toBe(200);
    const before = await db.pool.any(sql.unsafe`SELECT id, sequence_number, text FROM transcripts WHERE call_id = ${call.id} ORDER BY sequence_number`);

    // 1,200 overlapping day-long sentences: the segments insert fine, but Sarah's talk time
    // (103,680,000 s) overflows speakers.talk_time_seconds numeric(10,2) in the UPDATE that runs
    // after the DELETE and INSERT of the same transaction.
    const sentences = Array.from({ length: 1200 }, (_, i) => ({ start: 0, end: 86_400_000, text: `Sentence ${i}.` }));
    const response = await putTranscript(api, call.id, [{ speakerId: SARAH, sentences }]);
    expect(response.status()).toBe(400);
    expect((await response.json()).detail).toMatch(/out of the range the store can hold/);

    const after = await db.pool.any(sql.unsafe`SELECT id, sequence_number, text FROM transcripts WHERE call_id = ${call.id} ORDER BY sequence_number`);
    expect(after).toEqual(before);
    const talk = await db.pool.oneFirst(sql.unsafe`SELECT talk_time_seconds FROM speakers WHERE id = ${call.sarahId}`);
    expect(talk).toBe(9.1);
  });

  test('sentences of unknown Gong speakers are stored without a speaker and reported', async ({ api, db, trackCall }) => {
    const call = await createCall(api, trackCall);
    const response = await putTranscript(api, call.id, [
      { speakerId: 'ghost-2', sentences: [{ start: 0, end: 1000, text: 'Who is this?' }] },
      { speakerId: SARAH, sentences: [{ start: 1000, end: 4000, text: 'Sarah here.' }] },
      { speakerId: 'ghost-1', sentences: [{ start: 4000, end: 8000, text: 'Someone else.' }] },
      { speakerId: 'ghost-2', sentences: [{ start: 8000, end: 10000, text: 'Me again.' }] },
    ]);
    expect(response.status()).toBe(200);
    const ingest = await response.json();
    expect(ingest.unmatched_speaker_ids).toEqual(['ghost-2', 'ghost-1']); // first appearance order
    // Unmatched talk counts in the total: Sarah 3 s of 10 s.
    expect(ingest.speakers).toEqual([
      { speaker_id: call.sarahId, name: 'Sarah Chen', talk_time_seconds: 3, talk_time_percentage: 30 },
      { speaker_id: call.danId, name: 'Dan Ortiz', talk_time_seconds: 0, talk_time_percentage: 0 },
    ]);
    const rows = await db.pool.any(sql.unsafe`
      SELECT speaker_id, gong_speaker_id FROM transcripts WHERE call_id = ${call.id} ORDER BY sequence_number`);
    expect(rows).toEqual([
      { speaker_id: null, gong_speaker_id: 'ghost-2' },
      { speaker_id: call.sarahId, gong_speaker_id: SARAH },
      { speaker_id: null, gong_speaker_id: 'ghost-1' },
      { speaker_id: null, gong_speaker_id: 'ghost-2' },
    ]);
  });

  test('GET returns the segments in order with speaker names; a rep sees only calls they spoke on', async ({ api, trackCall }) => {
    const call = await createCall(api, trackCall);
    await storeTranscript(api, call.id, [...twoMonologues, { speakerId: 'ghost', sentences: [{ start: 22000, end: 23000, text: 'Hi.' }] }]);

    const response = await api.get(`/calls/${call.id}/transcript`);
    expect(response.status()).toBe(200);
    const transcript = await response.json();
    expect(transcript.call_id).toBe(call.id);
    expect(transcript.segment_count).toBe(4);
    expect(transcript.segments.map((s: { sequence_number: number }) => s.sequence_number)).toEqual([0, 1, 2, 3]);
    expect(transcript.segments.map((s: { speaker_name: string | null }) => s.speaker_name)).toEqual([
      'Sarah Chen', 'Sarah Chen', 'Dan Ortiz', null,
    ]);
    expect(transcript.segments[1]).toMatchObject({
      speaker_id: call.sarahId, gong_speaker_id: SARAH, start_time_ms: 4200, end_time_ms: 9100,
      text: 'What made you look at workflow tools this quarter?', topics: ['Introduction'], sentiment: null,
    });
    expect(transcript.segments[3]).toMatchObject({ speaker_id: null, gong_speaker_id: 'ghost', topics: [] });

    const onCall = await api.as(signToken({ role: 'rep', email: call.sarah.toUpperCase() })).get(`/calls/${call.id}/transcript`);
    expect(onCall.status()).toBe(200);
    expect((await onCall.json()).segment_count).toBe(4);
    const offCall = await api.as(signToken({ role: 'rep', email: uniqueEmail('other') })).get(`/calls/${call.id}/transcript`);
    expect(offCall.status()).toBe(404);
  });

  test('GET of a call without a transcript is an empty list; of an unknown call a 404', async ({ api, trackCall }) => {
    const call = await createCall(api, trackCall);
    const response = await api.get(`/calls/${call.id}/transcript`);
    expect(response.status()).toBe(200);
    expect(await response.json()).toEqual({ call_id: call.id, segment_count: 0, segments: [] });
    expect((await api.get(`/calls/${UNKNOWN_CALL}/transcript`)).status()).toBe(404);
  });

  test('PUT needs a writer role: 403 for a rep and a manager, and nothing is stored', async ({ api, db, trackCall }) => {
    const call = await createCall(api, trackCall);
    for (const role of ['rep', 'manager'] as const) {
      const response = await putTranscript(api.as(signToken({ role, email: call.sarah })), call.id, twoMonologues);
      expect(response.status()).toBe(403);
      expect((await response.json()).detail).toContain(role);
    }
    expect(await db.pool.exists(sql.unsafe`SELECT 1 FROM transcripts WHERE call_id = ${call.id}`)).toBe(false);
    const service = await putTranscript(api.as(signToken({ role: 'service' })), call.id, twoMonologues);
    expect(service.status()).toBe(200);
  });

  test('PUT for an unknown call is a 404; an empty transcript is a 400', async ({ api, trackCall }) => {
    const response = await putTranscript(api, UNKNOWN_CALL, twoMonologues);
    expect(response.status()).toBe(404);
    expect((await response.json()).detail).toContain(UNKNOWN_CALL);
    const call = await createCall(api, trackCall);
    expect((await putTranscript(api, call.id, [])).status()).toBe(400);
  });

  test('metrics of a small transcript match the hand-computed values', async ({ api, trackCall }) => {
    const call = await createCall(api, trackCall, [
      { name: 'Sam Lee', email: uniqueEmail('sam'), role: 'se', company_side: true, gong_speaker_id: '99' },
    ]);
    // Monologues (S = Sarah, company; D = Dan, customer), ms:
    //   S  0-4000 "Thanks for joining."           4000-10000 "What is failing today?"   -> 0-10000, 10 s
    //   D  11000-25000, 26000-30000                                                    -> 11000-30000, 19 s
    //   S  29000-33000 "How often does that happen?" (starts 1 s before Dan ends)       -> 4 s
    //   D  35000-45000                                                                 -> 10 s
    //   S  47000-50000 "Let us fix that."                                              -> 3 s
    await storeTranscript(api, call.id, [
      { speakerId: SARAH, sentences: [{ start: 0, end: 4000, text: 'Thanks for joining.' }, { start: 4000, end: 10000, text: 'What is failing today? ' }] },
      { speakerId: DAN, sentences: [{ start: 11000, end: 25000, text: 'Our nightly jobs fail.' }, { start: 26000, end: 30000, text: 'Why? Nobody knows.' }] },
      { speakerId: SARAH, sentences: [{ start: 29000, end: 33000, text: 'How often does that happen?' }] },
      { speakerId: DAN, sentences: [{ start: 35000, end: 45000, text: 'Every week?' }] },
      { speakerId: SARAH, sentences: [{ start: 47000, end: 50000, text: 'Let us fix that.' }] },
    ]);
    const response = await api.get(`/calls/${call.id}/metrics`);
    expect(response.status()).toBe(200);
    expect(await response.json()).toEqual({
      call_id: call.id,
      has_transcript: true,
      // 4 + 6 + 14 + 4 + 4 + 10 + 3 = 45 s of talk; Sarah 4 + 6 + 4 + 3 = 17 s.
      total_talk_seconds: 45,
      talk_ratio: 37.78, // 100 * 17 / 45 = 37.777...
      longest_monologue_seconds: 10, // Sarah 0-10000
      longest_customer_story_seconds: 19, // Dan 11000-30000, his pause at 25000-26000 included
      // 5 monologues = 4 switches in a 50 s span = 4.8 per minute; 4.8 / 6 * 10 = 8.0.
      interactivity: 8,
      // Sarah answers Dan twice: after -1000 ms (overlap, counts as 0) and after 2000 ms: mean 1 s.
      patience_seconds: 1,
      // Sarah's sentences ending in '?' (trailing space trimmed): 2; Dan's do not count.
      // 2 per 50 s = 2 * 3600 / 50 = 144 per hour.
      question_rate_per_hour: 144,
      speakers: [
        { speaker_id: call.sarahId, name: 'Sarah Chen', company_side: true, talk_time_seconds: 17, talk_time_percentage: 37.78 },
        { speaker_id: call.danId, name: 'Dan Ortiz', company_side: false, talk_time_seconds: 28, talk_time_percentage: 62.22 },
        { speaker_id: expect.any(String), name: 'Sam Lee', company_side: true, talk_time_seconds: 0, talk_time_percentage: 0 },
      ],
      gong: null,
    });
  });

  test('metrics cap interactivity at 10 and leave patience null when the company never answers', async ({ api, trackCall }) => {
    const call = await createCall(api, trackCall);
    // Sarah then Dan: Sarah never answers Dan, so there is no pause to average (null).
    // One switch in a 6 s span = 10 per minute, above 6: 16.7 capped at 10.
    await storeTranscript(api, call.id, [
      { speakerId: SARAH, sentences: [{ start: 0, end: 3000, text: 'Any questions?' }] },
      { speakerId: DAN, sentences: [{ start: 3000, end: 6000, text: 'None.' }] },
    ]);
    const metrics = await (await api.get(`/calls/${call.id}/metrics`)).json();
    expect(metrics).toMatchObject({
      has_transcript: true,
      total_talk_seconds: 6,
      talk_ratio: 50,
      longest_monologue_seconds: 3,
      longest_customer_story_seconds: 3,
      interactivity: 10,
      patience_seconds: null,
      question_rate_per_hour: 600, // 1 question in 6 s = 600 per hour
    });
  });

  test('metrics without a transcript: has_transcript false and null metrics; rep scope and 404', async ({ api, trackCall }) => {
    const call = await createCall(api, trackCall);
    const response = await api.get(`/calls/${call.id}/metrics`);
    expect(response.status()).toBe(200);
    expect(await response.json()).toEqual({
      call_id: call.id,
      has_transcript: false,
      total_talk_seconds: null,
      talk_ratio: null,
      longest_monologue_seconds: null,
      longest_customer_story_seconds: null,
      interactivity: null,
      patience_seconds: null,
      question_rate_per_hour: null,
      speakers: [],
      gong: null, // not a call from the Gong sync
    });
    expect((await api.get(`/calls/${UNKNOWN_CALL}/metrics`)).status()).toBe(404);
    const rep = api.as(signToken({ role: 'rep', email: uniqueEmail('other') }));
    expect((await rep.get(`/calls/${call.id}/metrics`)).status()).toBe(404);
    const onCall = api.as(signToken({ role: 'rep', email: call.dan }));
    expect((await onCall.get(`/calls/${call.id}/metrics`)).status()).toBe(200);
  });

  test('search snippets are HTML-escaped, so transcript text cannot inject markup', async ({ api, trackCall }) => {
    const word = uniqueWord();
    const call = await createCall(api, trackCall);
    await storeTranscript(api, call.id, [
      { speakerId: DAN, sentences: [{ start: 0, end: 1000, text: `Try <img src=x onerror=alert(1)> & ${word} <b>now</b>` }] },
    ]);
    const hits = await (await api.get(`/transcripts/search?q=${word}&call_id=${call.id}`)).json();
    expect(hits.data).toHaveLength(1);
    const snippet: string = hits.data[0].snippet;
    expect(snippet).toContain('onerror=alert(1)&gt;'); // the fragment around the match, escaped
    expect(snippet).toContain(`&amp; <mark>${word}</mark>`);
    expect(snippet.replaceAll('<mark>', '').replaceAll('</mark>', '')).not.toMatch(/[<>]/);
    expect(hits.data[0].text).toBe(`Try <img src=x onerror=alert(1)> & ${word} <b>now</b>`);
  });

  test('search lists matches newest call first, then in speaking order; highlights, pages by cursor, filters by call', async ({ api, trackCall }) => {
    const word = uniqueWord();
    const older = await createCall(api, trackCall, [], { scheduled_at: '2026-10-01T09:00:00Z' });
    const newer = await createCall(api, trackCall, [], { scheduled_at: '2026-11-02T15:00:00.123456Z' });
    const sameTime = await createCall(api, trackCall, [], { scheduled_at: '2026-11-02T15:00:00.123456Z' });
    await storeTranscript(api, older.id, [
      {
        speakerId: SARAH,
        sentences: [
          { start: 0, end: 1000, text: `One ${word} here.` },
          { start: 1000, end: 2000, text: 'Nothing to see.' },
          { start: 2000, end: 3000, text: `A ${word}, another ${word} and a third ${word}.` },
        ],
      },
      { speakerId: DAN, sentences: [{ start: 3000, end: 4000, text: `Two: ${word} then ${word} again.` }] },
    ]);
    await storeTranscript(api, newer.id, [{ speakerId: DAN, sentences: [{ start: 0, end: 1000, text: `Elsewhere ${word}.` }] }]);
    await storeTranscript(api, sameTime.id, [
      { speakerId: SARAH, sentences: [{ start: 0, end: 1000, text: `Same time ${word}.` }, { start: 1000, end: 2000, text: `And ${word}.` }] },
    ]);

    const inOlder = await (await api.get(`/transcripts/search?q=${word}&call_id=${older.id}`)).json();
    expect(inOlder.next_cursor).toBeNull();
    expect(inOlder.data.map((hit: { sequence_number: number }) => hit.sequence_number)).toEqual([0, 2, 3]);
    expect(inOlder.data[1]).toMatchObject({
      call_id: older.id, call_title: older.title, scheduled_at: '2026-10-01T09:00:00+00:00',
      speaker_id: older.sarahId, speaker_name: 'Sarah Chen', start_time_ms: 2000,
      text: `A ${word}, another ${word} and a third ${word}.`,
    });
    expect(inOlder.data[1].snippet.split(`<mark>${word}</mark>`)).toHaveLength(4);
    expect(inOlder.data[2]).toMatchObject({ speaker_id: older.danId, speaker_name: 'Dan Ortiz' });

    // Newest call first; two calls at the same instant by call id, descending; each call's
    // sentences in the order they were said.
    const [tieFirst, tieSecond] = [newer, sameTime].sort((a, b) => (a.id < b.id ? 1 : -1));
    const order = (call: { id: string }) => (call === newer ? [[newer.id, 0]] : call === sameTime ? [[sameTime.id, 0], [sameTime.id, 1]] : []);
    const expected = [...order(tieFirst!), ...order(tieSecond!), [older.id, 0], [older.id, 2], [older.id, 3]];
    const everywhere = await (await api.get(`/transcripts/search?q=${word}`)).json();
    expect(everywhere.data.map((hit: { call_id: string; sequence_number: number }) => [hit.call_id, hit.sequence_number])).toEqual(expected);

    // Pages of one follow the same order, each once, and end with a null cursor (the cursor carries
    // the call's time to the microsecond).
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `/transcripts/search?q=${word}&limit=1${cursor ? `&cursor=${cursor}` : ''}`;
      const pageBody = await (await api.get(query)).json();
      expect(pageBody.data).toHaveLength(1);
      seen.push(pageBody.data[0].segment_id);
      cursor = pageBody.next_cursor;
    } while (cursor && seen.length < 10);
    expect(seen).toEqual(everywhere.data.map((hit: { segment_id: string }) => hit.segment_id));

    // Moving a call in time moves its matches with it (the order follows the call's scheduled_at).
    expect((await api.patch(`/calls/${older.id}`, { scheduled_at: '2026-12-01T09:00:00Z' })).status()).toBe(200);
    const moved = await (await api.get(`/transcripts/search?q=${word}&limit=3`)).json();
    expect(moved.data.map((hit: { call_id: string; sequence_number: number; scheduled_at: string }) => [hit.call_id, hit.sequence_number, hit.scheduled_at]))
      .toEqual([[older.id, 0, '2026-12-01T09:00:00+00:00'], [older.id, 2, '2026-12-01T09:00:00+00:00'], [older.id, 3, '2026-12-01T09:00:00+00:00']]);
  });

  test('search: web syntax, stop words only, a bad cursor, and a rep sees only their calls', async ({ api, trackCall }) => {
    const word = uniqueWord();
    const mine = await createCall(api, trackCall);
    const theirs = await createCall(api, trackCall);
    await storeTranscript(api, mine.id, [{ speakerId: SARAH, sentences: [{ start: 0, end: 1000, text: `The nightly ${word} jobs failed.` }] }]);
    await storeTranscript(api, theirs.id, [{ speakerId: SARAH, sentences: [{ start: 0, end: 1000, text: `A ${word} demo went fine.` }] }]);

    const rep = api.as(signToken({ role: 'rep', email: mine.sarah }));
    const repHits = await (await rep.get(`/transcripts/search?q=${word}`)).json();
    expect(repHits.data.map((hit: { call_id: string }) => hit.call_id)).toEqual([mine.id]);
    const manager = api.as(signToken({ role: 'manager', email: uniqueEmail('boss') }));
    const managerHits = await (await manager.get(`/transcripts/search?q=${word}`)).json();
    expect(managerHits.data.map((hit: { call_id: string }) => hit.call_id).sort()).toEqual([mine.id, theirs.id].sort());

    // Stemming and web syntax: "failing" finds "failed"; -demo excludes the other segment.
    const stemmed = await (await api.get(`/transcripts/search?q=${encodeURIComponent(`${word} failing -demo`)}`)).json();
    expect(stemmed.data.map((hit: { call_id: string }) => hit.call_id)).toEqual([mine.id]);
    expect(stemmed.data[0].snippet).toContain('<mark>failed</mark>');

    const stopWords = await api.get('/transcripts/search?q=the%20and%20of');
    expect(stopWords.status()).toBe(200);
    expect(await stopWords.json()).toEqual({ data: [], next_cursor: null });

    const badCursor = await api.get(`/transcripts/search?q=${word}&cursor=bm9wZQ`);
    expect(badCursor.status()).toBe(400);
  });

  test('a 10,000-sentence transcript ingests completely', { tag: '@slow' }, async ({ api, db, trackCall }) => {
    const call = await createCall(api, trackCall);
    const transcript: Monologue[] = [];
    for (let m = 0; m < 1000; m++) {
      transcript.push({
        speakerId: m % 2 === 0 ? SARAH : DAN,
        topic: `Topic ${m % 7}`,
        sentences: Array.from({ length: 10 }, (_, s) => {
          const start = (m * 10 + s) * 3000;
          return { start, end: start + 2500, text: `Monologue ${m} sentence ${s} about nightly workflow runs and retries.` };
        }),
      });
    }
    const started = Date.now();
    const response = await putTranscript(api, call.id, transcript);
    const elapsed = Date.now() - started;
    expect(response.status()).toBe(200);
    console.log(`10,000-sentence PUT /calls/{id}/transcript: ${elapsed} ms (HTTP round trip)`);
    const ingest = await response.json();
    expect(ingest).toMatchObject({ segment_count: 10_000, duration_ms: 9999 * 3000 + 2500, unmatched_speaker_ids: [] });
    // Each speaker has 5,000 sentences of 2.5 s: 12,500 s, 50 %.
    expect(ingest.speakers.map((s: { talk_time_seconds: number }) => s.talk_time_seconds)).toEqual([12500, 12500]);

    const summary = await db.pool.one(sql.unsafe`
      SELECT count(*)::int AS rows, min(sequence_number) AS first, max(sequence_number) AS last,
             count(DISTINCT sequence_number)::int AS distinct_numbers,
             count(*) FILTER (WHERE speaker_id IS NULL)::int AS without_speaker
      FROM transcripts WHERE call_id = ${call.id}`);
    expect(summary).toEqual({ rows: 10_000, first: 0, last: 9999, distinct_numbers: 10_000, without_speaker: 0 });
    const last = await db.pool.one(sql.unsafe`
      SELECT speaker_id, start_time_ms::int, text, topics FROM transcripts WHERE call_id = ${call.id} AND sequence_number = 9999`);
    expect(last).toEqual({
      speaker_id: call.danId, start_time_ms: 9999 * 3000, topics: ['Topic 5'],
      text: 'Monologue 999 sentence 9 about nightly workflow runs and retries.',
    });
  });
});
