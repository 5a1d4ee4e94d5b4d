import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { expect, newCall, test, type ApiClient } from './support/fixtures.js';
import { testEnvironment } from './support/test-environment.js';
import { signToken } from './support/tokens.js';

type Raw = { status: number; headers: Record<string, string | string[] | undefined>; bytes: Buffer };

/** The bytes exactly as sent (Playwright's client would decode them), with this Accept-Encoding. */
function rawGet(path: string, acceptEncoding: string | undefined, extra: Record<string, string> = {}, method = 'GET'): Promise<Raw> {
  const headers: Record<string, string> = { Authorization: `Bearer ${signToken()}`, ...extra };
  if (acceptEncoding !== undefined) headers['Accept-Encoding'] = acceptEncoding;
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL(path, testEnvironment().baseURL), { headers, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, bytes: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const decoders = { gzip: gunzipSync, br: brotliDecompressSync } as const;

/** The body as the client reads it, after checking Content-Length (when sent) is the bytes on the wire. */
function decoded(response: Raw): Buffer {
  const length = response.headers['content-length'];
  if (length !== undefined) expect(Number(length), 'Content-Length').toBe(response.bytes.length);
  const encoding = response.headers['content-encoding'] as keyof typeof decoders | undefined;
  return encoding ? decoders[encoding](response.bytes) : response.bytes;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('base64url');

/** A call with a transcript of `sentences` sentences (60: a few KB; 1000: ~150 KB). */
async function callWithTranscript(api: ApiClient, trackCall: (id: string) => void, count = 60): Promise<string> {
  const created = await api.post(
    '/calls',
    newCall({ speakers: [{ name: 'Sarah Chen', email: `sarah.${Date.now()}@example.com`, role: 'ae', company_side: true, gong_speaker_id: '1' }] }),
  );
  expect(created.status()).toBe(201);
  const id = (await created.json()).id as string;
  trackCall(id);
  const sentences = Array.from({ length: count }, (_, i) => ({ start: i * 1000, end: i * 1000 + 900, text: `Sentence ${i} about nightly jobs that fail.` }));
  expect((await api.put(`/calls/${id}/transcript`, [{ speakerId: '1', sentences }])).status()).toBe(200);
  return id;
}

/** What each Accept-Encoding gets, for any body over 1 KB: q-values, `*`, identity and refusals. */
const NEGOTIATION: [string | undefined, 'gzip' | 'br' | undefined][] = [
  [undefined, undefined], // no field: identity
  ['', undefined],
  ['identity', undefined],
  ['gzip, deflate, br', 'gzip'], // equal weights: the client's first
  ['br, gzip', 'br'],
  ['gzip;q=0.5, br;q=1', 'br'],
  ['br;q=0.2, gzip;q=0.8', 'gzip'],
  ['gzip;q=0, br', 'br'],
  ['deflate', undefined], // not offered: identity
  ['*', 'gzip'],
  ['*;q=0.5, br;q=0', 'gzip'],
  ['br;q=0, gzip;q=0', undefined],
  ['identity;q=0, *;q=0', undefined], // nothing acceptable: identity anyway, rather than 406
  ['GZIP', 'gzip'],
];

test.describe('compression', { tag: '@integration' }, () => {
  test('a transcript over 1 KB comes gzip- or br-compressed as Accept-Encoding prefers, the same JSON once decoded', async ({ api, trackCall }) => {
    const id = await callWithTranscript(api, trackCall);
    const path = `/calls/${id}/transcript`;
    const plain = await rawGet(path, undefined);
    expect(plain.status).toBe(200);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.bytes.length).toBeGreaterThan(1024);
    const json = JSON.parse(plain.bytes.toString('utf8'));

    for (const [accept, encoding, decode] of [
      ['gzip, deflate, br', 'gzip', gunzipSync], // equal weights: gzip, the cheaper (docs/benchmarks.md)
      ['br', 'br', brotliDecompressSync],
      ['gzip;q=0.5, br;q=1', 'br', brotliDecompressSync],
      ['gzip', 'gzip', gunzipSync],
    ] as const) {
      const response = await rawGet(path, accept);
      expect(response.headers['content-encoding'], accept).toBe(encoding);
      expect(response.headers.vary).toMatch(/\bAccept-Encoding\b/);
      expect(response.bytes.length).toBeLessThan(plain.bytes.length / 2);
      expect(JSON.parse(decode(response.bytes).toString('utf8'))).toEqual(json);
    }
    expect((await rawGet(path, 'identity')).headers['content-encoding']).toBeUndefined();
    // Through the contract check: Content-Encoding and Vary as declared.
    const checked = await api.get(path, { headers: { 'Accept-Encoding': 'br' } });
    expect(checked.headers()['content-encoding']).toBe('br');
  });

  test('a body of at most 1 KB goes out as it is; a call with two speakers is over 1 KB and is compressed', async ({ api, trackCall }) => {
    const bare = await (await api.post('/calls', newCall({ speakers: [] }))).json();
    trackCall(bare.id);
    const small = await rawGet(`/calls/${bare.id}`, 'gzip, deflate, br');
    expect(small.status).toBe(200);
    expect(small.bytes.length).toBeLessThanOrEqual(1024);
    expect(small.headers['content-encoding']).toBeUndefined();
    expect(small.headers.vary).toMatch(/\bAccept-Encoding\b/);
    expect(small.headers['content-length']).toBe(String(small.bytes.length));

    // Two speakers take a call past 1 KB (~1.1 KB), so a typical GET /calls/{id} is compressed.
    const typical = await (await api.post('/calls', newCall())).json();
    trackCall(typical.id);
    expect(Buffer.byteLength(JSON.stringify(typical))).toBeGreaterThan(1024);
    const compressed = await rawGet(`/calls/${typical.id}`, 'gzip, deflate, br');
    expect(compressed.headers['content-encoding']).toBe('gzip');
    expect(JSON.parse(gunzipSync(compressed.bytes).toString('utf8'))).toEqual(typical);
  });

  test('Accept-Encoding is negotiated alike for a 1.5 KB call (compressed in one call, with Content-Length) and a transcript over 64 KiB (streamed)', async ({ api, trackCall }) => {
    const call = await (await api.post('/calls', newCall({ speakers: [1, 2, 3].map((i) => ({ name: `Speaker ${i}`, email: `s${i}.${Date.now()}@example.com`, role: 'ae', company_side: true })) }))).json();
    trackCall(call.id);
    const transcriptId = await callWithTranscript(api, trackCall, 1000);
    for (const [path, small] of [[`/calls/${call.id}`, true], [`/calls/${transcriptId}/transcript`, false]] as const) {
      const plain = await rawGet(path, undefined);
      expect(plain.status).toBe(200);
      if (small) expect(plain.bytes.length).toBeLessThan(64 * 1024);
      else expect(plain.bytes.length).toBeGreaterThan(64 * 1024);
      for (const [accept, expected] of NEGOTIATION) {
        const response = await rawGet(path, accept);
        const what = `${path} with Accept-Encoding: ${accept}`;
        expect(response.status, what).toBe(200);
        expect(response.headers['content-encoding'], what).toBe(expected);
        expect(response.headers.vary, what).toMatch(/\bAccept-Encoding\b/);
        // One synchronous call: Content-Length known. A stream: chunked.
        if (small || !expected) expect(response.headers['content-length'], what).toBe(String(response.bytes.length));
        else expect(response.headers['transfer-encoding'], what).toBe('chunked');
        expect(decoded(response).equals(plain.bytes), `${what}: the same bytes once decoded`).toBe(true);
      }
    }
  });

  test('each coding is its own representation: its own strong ETag, 304 only for its own tag, and If-Match takes any coding\'s tag of the current state', async ({ api, trackCall }) => {
    const call = await (await api.post('/calls', newCall())).json();
    trackCall(call.id);
    const path = `/calls/${call.id}`;
    const plain = await rawGet(path, 'identity');
    const digest = sha256(plain.bytes);
    const tags = { identity: `"${digest}"`, gzip: `"${digest}-gzip"`, br: `"${digest}-br"` };
    for (const [coding, tag] of Object.entries(tags)) {
      const response = await rawGet(path, coding);
      expect(response.headers.etag, coding).toBe(tag);
      expect(sha256(decoded(response))).toBe(digest);
      // Its own tag: 304 carrying it; another coding's tag names bytes this request would not get.
      const notModified = await rawGet(path, coding, { 'If-None-Match': tag });
      expect(notModified.status, coding).toBe(304);
      expect(notModified.headers.etag).toBe(tag);
      expect(notModified.headers['content-encoding']).toBeUndefined();
      expect(notModified.bytes.length).toBe(0);
      const others = Object.values(tags).filter((other) => other !== tag).join(', ');
      const full = await rawGet(path, coding, { 'If-None-Match': others });
      expect(full.status, `${coding} with If-None-Match: ${others}`).toBe(200);
      expect(full.headers.etag).toBe(tag);
    }
    // Through the contract check: the 304 as declared.
    expect((await api.get(path, { headers: { 'Accept-Encoding': 'br', 'If-None-Match': tags.br } })).status()).toBe(304);

    // The -gzip tag a gzip-reading client holds is a precondition on the same state.
    const stale = await api.patch(path, { title: 'Renamed' }, { headers: { 'If-Match': '"not-the-tag-gzip"' } });
    expect(stale.status()).toBe(412);
    const renamed = await api.patch(path, { title: 'Renamed' }, { headers: { 'If-Match': tags.gzip } });
    expect(renamed.status()).toBe(200);
    const again = await api.patch(path, { title: 'Renamed again' }, { headers: { 'If-Match': tags.br } });
    expect(again.status(), 'the br tag of the state before the rename').toBe(412);
  });

  test('no coding on a 204, and error bodies over 1 KB are compressed like any other', async ({ api, trackCall }) => {
    const call = await (await api.post('/calls', newCall())).json();
    trackCall(call.id);
    const deleted = await api.delete(`/calls/${call.id}`, { headers: { 'Accept-Encoding': 'gzip' } });
    expect(deleted.status()).toBe(204);
    expect(deleted.headers()['content-encoding']).toBeUndefined();
    // A validation failure listing many faults is a problem+json body over 1 KB.
    const invalid = await api.post('/calls', { speakers: Array.from({ length: 20 }, () => ({ role: 'nobody' })) }, { headers: { 'Accept-Encoding': 'gzip' } });
    expect(invalid.status()).toBe(400);
    expect((await invalid.body()).length).toBeGreaterThan(1024);
    expect(invalid.headers()['content-encoding']).toBe('gzip');
  });
});
