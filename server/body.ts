/**
 * Reading a JSON request body: streamed, bounded in raw and in decompressed bytes, refused early
 * when it expands suspiciously, then parsed. Written here rather than with @koa/bodyparser, which
 * inflates through co-body/raw-body: those bound the inflated size but not the expansion ratio, and
 * turn a broken gzip stream into an unlabelled error.
 */
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import type { Transform } from 'node:stream';
import zlib from 'node:zlib';
import type { Context, Middleware, Next } from 'koa';
import { bodyFaults } from './body-checks.js';
import { HttpProblem } from './problem.js';
import { headerCount } from './raw-headers.js';
import { routeOf, type Route } from './routes.js';
import type { SecurityVerdict } from './security.js';
import { invalidRequest } from './validation.js';

/** A compressed body may expand this many times its compressed size… */
export const MAX_COMPRESSION_RATIO = 100;
/** …once it has expanded past this many bytes (small bodies compress well and harm nobody). */
const RATIO_CHECKED_FROM = 64 * 1024;

const DECODERS: Record<string, () => Transform> = {
  gzip: () => zlib.createGunzip(),
  'x-gzip': () => zlib.createGunzip(),
  deflate: () => zlib.createInflate(),
  br: () => zlib.createBrotliDecompress(),
};

/** Whether the request carries a body at all (RFC 9112: Content-Length or Transfer-Encoding). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function tooLarge(limit: number): HttpProblem {
  return new HttpProblem(413, `The request body is larger than this operation's limit of ${limit} bytes; send less.`);
}

/** The body's text, at most `limit` bytes before and after decompression; `ready` runs once it is to be read. */
export async function readText(req: IncomingMessage, limit: number, ready?: () => void): Promise<string> {
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  const decoder = encoding === 'identity' ? undefined : DECODERS[encoding];
  if (encoding !== 'identity' && !decoder) {
    throw new HttpProblem(415, `Content-Encoding "${encoding}" is not supported; send gzip, deflate, br or none.`);
  }
  const declared = Number(req.headers['content-length']);
  if (declared > limit) throw tooLarge(limit);
  ready?.();

  const inflate = decoder?.();
  const chunks: Buffer[] = [];
  let raw = 0;
  let decoded = 0;
  return new Promise<string>((resolve, reject) => {
    let settled = false;
    const fail = (problem: HttpProblem) => {
      if (settled) return;
      settled = true;
      req.unpipe();
      inflate?.destroy();
      req.pause();
      reject(problem);
    };
    const collect = (chunk: Buffer) => {
      decoded += chunk.length;
      if (decoded > limit) return fail(tooLarge(limit));
      if (inflate && decoded > RATIO_CHECKED_FROM && decoded > raw * MAX_COMPRESSION_RATIO) {
        return fail(
          new HttpProblem(413, `The compressed body expands more than ${MAX_COMPRESSION_RATIO} times its size; send it less compressed.`),
        );
      }
      chunks.push(chunk);
    };
    const done = () => {
      if (settled) return;
      const bytes = Buffer.concat(chunks, decoded);
      // toString would replace each invalid sequence with U+FFFD and store that silently.
      if (!isUtf8(bytes)) return fail(new HttpProblem(400, 'The body is not valid UTF-8; send JSON encoded as UTF-8 (RFC 8259).'));
      settled = true;
      resolve(bytes.toString('utf8'));
    };
    req.on('data', (chunk: Buffer) => {
      raw += chunk.length;
      if (raw > limit) fail(tooLarge(limit));
    });
    req.on('error', () => fail(new HttpProblem(400, 'The request body was not received in full.')));
    req.on('aborted', () => fail(new HttpProblem(400, 'The request body was not received in full.')));
    if (inflate) {
      inflate.on('data', collect);
      inflate.on('end', done);
      inflate.on('error', (error: Error) =>
        fail(new HttpProblem(400, `The body is not valid ${encoding} data (${error.message}); send it as the Content-Encoding names it.`)),
      );
      req.pipe(inflate);
    } else {
      req.on('data', collect);
      req.on('end', done);
    }
  });
}

/** The body parsed as JSON; it must be an object or an array (the contract's bodies are). */
export function parseJson(text: string): unknown {
  const at = (message: string, detail: string) => new HttpProblem(400, detail, { errors: [{ location: 'body', path: '/', message }] });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // JSON.parse says where it stopped, e.g. "Expected ',' or '}' after property value in JSON at position 12".
    throw at(`is not valid JSON: ${(error as Error).message.slice(0, 200)}`, 'The body is not valid JSON; send one JSON object.');
  }
  if (value === null || typeof value !== 'object') throw at('must be a JSON object', 'The body must be a JSON object.');
  return value;
}

/**
 * 5. read the body: only an operation that takes one, only as application/json, at most its
 * `x-body-limit` bytes (compressed and decompressed), then whatever a security scheme checks on
 * the bytes (Gong's body hash), parsed, and checked for what no schema may hold (bodyFaults).
 */
export const readBody: Middleware = (ctx, next) => {
  const { body } = routeOf(ctx);
  // Not async: an operation without a body (every GET) passes straight on.
  return body ? readDeclaredBody(ctx, next, body) : next();
};

async function readDeclaredBody(ctx: Context, next: Next, body: NonNullable<Route['body']>): Promise<void> {
  const verdicts = Object.values(ctx.state.security as Record<string, SecurityVerdict>);
  if (!hasBody(ctx.req)) {
    for (const verdict of verdicts) verdict.verifyBody?.('');
    return next();
  }
  if (headerCount(ctx.req, 'content-type') > 1) {
    throw new HttpProblem(415, 'Send one Content-Type header (application/json), not several.');
  }
  if (!ctx.is('application/json')) {
    throw new HttpProblem(415, `Send the body as application/json (got ${ctx.get('content-type') || 'no content type'}).`);
  }
  // A client that sent Expect: 100-continue waits for this before sending the body: only now, with
  // the caller authenticated and the encoding and declared length acceptable, is it wanted.
  const text = await readText(ctx.req, body.limit, () => /^100-continue$/i.test(ctx.get('Expect')) && ctx.res.writeContinue());
  for (const verdict of verdicts) verdict.verifyBody?.(text);
  (ctx.request as { rawBody?: string }).rawBody = text;
  const value = parseJson(text);
  const faults = bodyFaults(value, body.maxDepth);
  if (faults.count > 0) throw invalidRequest(faults.errors, faults.count);
  ctx.state.body = value;
  return next();
}
