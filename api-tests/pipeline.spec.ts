/**
 * The request pipeline's order and bounds (DESIGN.md section 1, server/app.ts): a protected
 * operation answers 401 before reading, decompressing or parsing its body; bodies are bounded
 * in raw and decompressed bytes and in expansion; broken compression is a 400, an unknown one a
 * 415; nesting has a bound; an error body lists at most 20 faults and counts them all.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import zlib from 'node:zlib';
import { expectMatchesContract } from './support/contract.js';
import { expect, newCall, test } from './support/fixtures.js';
import { testEnvironment } from './support/test-environment.js';
import { signToken } from './support/tokens.js';

const BASE = new URL(testEnvironment().baseURL);
const ADMIN = signToken({ role: 'admin' });

type Answer = { status: number; headers: Record<string, string>; body: Buffer; ms: number; closedByServer: Promise<number> };

/**
 * A request over a raw socket: headers, then the body from `send`, which may keep writing for
 * as long as the connection is open. Resolves when the answer is complete (not when the body is).
 */
function rawRequest(options: { method: string; path: string; headers: Record<string, string | number>; send: (write: (chunk: Buffer) => boolean) => void }): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: BASE.hostname, port: BASE.port, method: options.method, path: options.path, headers: options.headers, agent: false });
    let closed: (ms: number) => void = () => {};
    const closedByServer = new Promise<number>((done) => (closed = done));
    req.on('error', () => closed(performance.now() - started)); // EPIPE / ECONNRESET once the server closed it
    req.on('close', () => closed(performance.now() - started));
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          headers: res.headers as Record<string, string>,
          body: Buffer.concat(chunks),
          ms: performance.now() - started,
          closedByServer,
        }),
      );
    });
    req.on('error', (error) => reject(error));
    req.flushHeaders();
    options.send((chunk) => !req.destroyed && req.write(chunk));
  });
}

/** The raw answer, checked against the contract like every other response. */
async function checked(answer: Answer, method: string, path: string): Promise<{ status: number; headers: Record<string, string>; problem: Record<string, unknown> }> {
  await expectMatchesContract(
    { url: () => new URL(path, BASE).toString(), status: () => answer.status, headers: () => answer.headers, body: async () => answer.body, json: async () => JSON.parse(answer.body.toString()) },
    method,
  );
  return { status: answer.status, headers: answer.headers, problem: JSON.parse(answer.body.toString()) };
}

/** A body that keeps arriving for `seconds` (or until the server closes the connection). */
function trickle(seconds: number) {
  return (write: (chunk: Buffer) => boolean) => {
    const until = Date.now() + seconds * 1000;
    write(Buffer.from('{"title": "'));
    const timer = setInterval(() => {
      if (Date.now() > until || !write(Buffer.from('x'.repeat(1024)))) clearInterval(timer);
    }, 20);
  };
}

test.describe('request pipeline', { tag: '@integration' }, () => {
  test('no token: 401 at once while the body is still arriving, and the server closes the connection instead of reading it', async () => {
    const answer = await rawRequest({
      method: 'POST',
      path: '/calls',
      headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' },
      send: trickle(30),
    });
    const { status, headers } = await checked(answer, 'POST', '/calls');
    expect(status).toBe(401);
    expect(headers['www-authenticate']).toBe('Bearer realm="call-coach"');
    expect(headers.connection).toBe('close');
    // The 30-second body was neither waited for nor drained: the server hung up within seconds.
    expect(await answer.closedByServer).toBeLessThan(10_000);
  });

  test('no token: a 20 MB brotli bomb on PUT transcript is a 401 without being decompressed', async ({ api }) => {
    const bomb = zlib.brotliCompressSync('[' + '{},'.repeat(6_990_484) + '{}]');
    const callId = '0f8e5d8c-7b1a-4c36-9d2e-6a4b7e1c2f90';
    const response = await api.as(null).fetch('PUT', `/calls/${callId}/transcript`, {
      data: bomb,
      headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'br' },
    });
    expect(response.status()).toBe(401);
    // Meanwhile the service kept answering.
    expect((await api.get('/health')).status()).toBe(200);
  });

  test('a body that would expand more than 100 times is a 413 before it is inflated in full', async ({ api }) => {
    const bomb = zlib.gzipSync(JSON.stringify(newCall({ metadata: { pad: ' '.repeat(900_000) } })));
    expect(bomb.length * 100).toBeLessThan(900_000); // the ratio, not the size limit, is what refuses it
    const response = await api.fetch('POST', '/calls', { data: bomb, headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' } });
    expect(response.status()).toBe(413);
    expect((await response.json()).detail).toMatch(/expands more than 100 times/);
  });

  test('a compressed body within the bounds is read like a plain one (gzip, deflate, br)', async ({ api, trackCall }) => {
    for (const [encoding, compress] of [['gzip', zlib.gzipSync], ['deflate', zlib.deflateSync], ['br', zlib.brotliCompressSync]] as const) {
      const body = newCall();
      const response = await api.fetch('POST', '/calls', {
        data: compress(Buffer.from(JSON.stringify(body))),
        headers: { 'Content-Type': 'application/json', 'Content-Encoding': encoding },
      });
      expect(response.status(), encoding).toBe(201);
      const call = await response.json();
      trackCall(call.id);
      expect(call.title).toBe(body.title);
    }
  });

  test('a body over the limit once decompressed is a 413, though it is small compressed', async ({ api }) => {
    // Random text barely compresses, so the ratio stays low and the size limit refuses it.
    const random = Buffer.from(Array.from({ length: 1_100_000 }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join(''));
    const body = zlib.gzipSync(Buffer.from(JSON.stringify(newCall({ metadata: { blob: random.toString() } }))));
    const response = await api.fetch('POST', '/calls', { data: body, headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' } });
    expect(response.status()).toBe(413);
    expect((await response.json()).detail).toMatch(/limit of 1048576 bytes/);
  });

  const valid = Buffer.from(JSON.stringify(newCall()));
  const gzipped = zlib.gzipSync(valid);
  const badChecksum = Buffer.from(gzipped);
  badChecksum[badChecksum.length - 6]! ^= 0xff; // the CRC-32 in the trailer
  for (const [what, encoding, data] of [
    ['not gzip at all', 'gzip', Buffer.from('not gzip at all')],
    ['a truncated gzip stream', 'gzip', gzipped.subarray(0, gzipped.length - 10)],
    ['a gzip stream with a bad checksum', 'gzip', badChecksum],
    ['garbage deflate', 'deflate', Buffer.from('garbage that is not deflate')],
    ['garbage br', 'br', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00, 0x11, 0x22])],
  ] as const) {
    test(`${what} is a 400 with a token, a 401 without`, async ({ api }) => {
      const headers = { 'Content-Type': 'application/json', 'Content-Encoding': encoding };
      const anonymous = await api.as(null).fetch('POST', '/calls', { data, headers });
      expect(anonymous.status()).toBe(401);
      const response = await api.fetch('POST', '/calls', { data, headers });
      expect(response.status()).toBe(400);
      expect((await response.json()).detail).toMatch(new RegExp(`not valid ${encoding} data`));
    });
  }

  test('an unsupported Content-Encoding is a 415 with a token, a 401 without', async ({ api }) => {
    const headers = { 'Content-Type': 'application/json', 'Content-Encoding': 'compress' };
    expect((await api.as(null).fetch('POST', '/calls', { data: valid, headers })).status()).toBe(401);
    const response = await api.fetch('POST', '/calls', { data: valid, headers });
    expect(response.status()).toBe(415);
    expect((await response.json()).detail).toMatch(/Content-Encoding "compress" is not supported/);
  });

  test('a role the operation does not allow is a 403 before the body is read', async ({ api }) => {
    const rep = api.as(signToken({ role: 'rep', email: 'rep@example.com' }));
    // The body is not even JSON: had it been read, this would be a 400.
    const response = await rep.fetch('POST', '/calls', { data: Buffer.from('{not json'), headers: { 'Content-Type': 'application/json' } });
    expect(response.status()).toBe(403);
  });

  test('nesting: 32 levels are accepted, 33 are a 400, and 10,000 levels are a 400 too (no stack overflow)', async ({ api, trackCall }) => {
    const nested = (levels: number) => {
      let value: unknown = 'leaf';
      for (let i = 0; i < levels; i++) value = { deeper: value };
      return value;
    };
    // The body is level 1; metadata made of 31 nested objects reaches level 32.
    const ok = await api.post('/calls', newCall({ metadata: nested(31) }));
    expect(ok.status()).toBe(201);
    trackCall((await ok.json()).id);
    const deep = await api.post('/calls', newCall({ metadata: nested(32) }));
    expect(deep.status()).toBe(400);
    expect((await deep.json()).errors[0]).toMatchObject({ location: 'body', message: 'nests deeper than 32 levels of objects and arrays' });
    const abyss = await api.fetch('POST', '/calls', {
      data: Buffer.from(`{"metadata": ${'['.repeat(10_000)}${']'.repeat(10_000)}}`),
      headers: { 'Content-Type': 'application/json' },
    });
    expect(abyss.status()).toBe(400);
  });

  test('an error body lists the first 20 faults and counts them all', async ({ api }) => {
    const speakers = Array.from({ length: 30 }, () => ({ name: 5 }));
    const response = await api.post('/calls', newCall({ speakers }));
    expect(response.status()).toBe(400);
    const problem = await response.json();
    expect(problem.errors).toHaveLength(20);
    expect(problem.error_count).toBeGreaterThan(20);
    expect(problem.detail).toContain(`and ${problem.error_count - 1} more`);
  });

  test('a method the path does not have is a 405 that says which it has', async ({ api }) => {
    const response = await api.fetch('PUT', '/calls');
    expect(response.status()).toBe(405);
    expect(response.headers().allow).toBe('GET, POST');
    expect((await response.json()).detail).toContain('GET, POST');
    // HEAD, which @koa/router would answer from a GET route, is not in the contract either (no body
    // to check against it, hence the raw request).
    const head = await rawRequest({ method: 'HEAD', path: '/health', headers: {}, send: () => {} });
    expect(head.status).toBe(405);
    expect(head.headers.allow).toBe('GET');
  });
});
