import { pipeline, Stream } from 'node:stream';
import { brotliCompressSync, constants, createBrotliCompress, createGzip, gzipSync, type BrotliOptions } from 'node:zlib';
import compressible from 'compressible';
import type { Context, Next } from 'koa';

/** Bodies of at most this many bytes go out as they are: compressing them costs more than it saves. */
export const COMPRESSION_THRESHOLD_BYTES = 1024;

/**
 * Bodies up to this size are compressed in one synchronous zlib call (~20 µs for a 1.5 KB call,
 * ~150 µs at 64 KiB); larger ones and streams through a zlib stream, which runs in libuv's
 * thread pool instead of blocking the event loop for milliseconds (docs/benchmarks.md).
 */
const SYNC_LIMIT_BYTES = 64 * 1024;

/** gzip level 1 and brotli quality 1: as small as level 6 / quality 4 within a few %, at half their CPU on large bodies (scripts/compression-bench.ts). */
const GZIP_OPTIONS = { level: 1 };
const brotliOptions = (size: number | undefined): BrotliOptions => ({
  params: { [constants.BROTLI_PARAM_QUALITY]: 1, ...(size === undefined ? {} : { [constants.BROTLI_PARAM_SIZE_HINT]: size }) },
});

export type ContentCoding = 'gzip' | 'br' | 'identity';

const NO_TRANSFORM = /(?:^|,)\s*no-transform\s*(?:,|$)/i;

/**
 * The content coding this request's response goes out in, for a body of `size` bytes (undefined:
 * a stream of unknown length) of the response's current Content-Type. One decision for the
 * compression stage and the ETag (conditional.ts), so a tag always names the bytes sent.
 * Accept-Encoding is negotiated by koa's `ctx.acceptsEncodings` (q-values, `*`, `identity;q=0`;
 * between equal weights the client's first); absent, or nothing acceptable, means identity.
 */
export function contentCoding(ctx: Context, size: number | undefined): ContentCoding {
  // No Accept-Encoding: identity, as negotiation below would say, without its parsing.
  if (!ctx.headers['accept-encoding'] || ctx.method === 'HEAD' || (size !== undefined && size <= COMPRESSION_THRESHOLD_BYTES)) return 'identity';
  if (!compressible(ctx.response.type) || NO_TRANSFORM.test(ctx.response.get('Cache-Control'))) return 'identity';
  const coding = ctx.acceptsEncodings('gzip', 'br', 'identity');
  return coding === 'gzip' || coding === 'br' ? coding : 'identity';
}

const EMPTY_BODY_STATUSES = new Set([204, 205, 304]);

/**
 * Responses over 1 KB compressed with gzip or br as Accept-Encoding asks, with
 * `Vary: Accept-Encoding` on every response. A body up to 64 KiB is compressed in one
 * synchronous call (a zlib stream per response cost 4-6x the CPU on a 1.5 KB call), so its
 * Content-Length is known; anything larger, and a stream, through a zlib stream (chunked).
 * A JSON body is serialised once, here.
 */
export async function compression(ctx: Context, next: Next): Promise<void> {
  // Set directly when no stage named a Vary yet (CORS may have: then appended); koa's vary parses the field each time.
  if (ctx.res.hasHeader('Vary')) ctx.vary('Accept-Encoding');
  else ctx.res.setHeader('Vary', 'Accept-Encoding');
  await next();
  let body = ctx.body as unknown;
  if (body == null || EMPTY_BODY_STATUSES.has(ctx.status) || ctx.res.headersSent || ctx.response.get('Content-Encoding')) return;
  const stream = body instanceof Stream;
  if (!stream && typeof body !== 'string' && !Buffer.isBuffer(body)) body = ctx.body = JSON.stringify(body);
  const size = stream ? undefined : Buffer.byteLength(body as string | Buffer);
  const coding = contentCoding(ctx, size);
  if (coding === 'identity') return;

  ctx.set('Content-Encoding', coding);
  if (size !== undefined && size <= SYNC_LIMIT_BYTES) {
    ctx.body = coding === 'gzip' ? gzipSync(body as string | Buffer, GZIP_OPTIONS) : brotliCompressSync(body as string | Buffer, brotliOptions(size));
    return;
  }
  const compressor = coding === 'gzip' ? createGzip(GZIP_OPTIONS) : createBrotliCompress(brotliOptions(size));
  ctx.body = compressor; // Koa drops Content-Length for a stream
  if (stream) pipeline(body as NodeJS.ReadableStream, compressor, () => {}); // an error reaches Koa through the compressor
  else compressor.end(body);
}
