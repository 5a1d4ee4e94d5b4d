import { request as httpRequest } from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { expect, newCall, test, type ApiClient } from './support/fixtures.js';
import { testEnvironment } from './support/test-environment.js';
import { signToken } from './support/tokens.js';

type Raw = { status: number; headers: Record<string, string | string[] | undefined>; bytes: Buffer };

/** The bytes exactly as sent (Playwright's client would decode them), with this Accept-Encoding. */
function rawGet(path: string, acceptEncoding: string | undefined): Promise<Raw> {
  const headers: Record<string, string> = { Authorization: `Bearer ${signToken()}` };
  if (acceptEncoding !== undefined) headers['Accept-Encoding'] = acceptEncoding;
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL(path, testEnvironment().baseURL), { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, bytes: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A call with a transcript of a few KB. */
async function callWithTranscript(api: ApiClient, trackCall: (id: string) => void): Promise<string> {
  const created = await api.post(
    '/calls',
    newCall({ speakers: [{ name: 'Sarah Chen', email: `sarah.${Date.now()}@example.com`, role: 'ae', company_side: true, gong_speaker_id: '1' }] }),
  );
  expect(created.status()).toBe(201);
  const id = (await created.json()).id as string;
  trackCall(id);
  const sentences = Array.from({ length: 60 }, (_, i) => ({ start: i * 1000, end: i * 1000 + 900, text: `Sentence ${i} about nightly jobs that fail.` }));
  expect((await api.put(`/calls/${id}/transcript`, [{ speakerId: '1', sentences }])).status()).toBe(200);
  return id;
}

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
});
