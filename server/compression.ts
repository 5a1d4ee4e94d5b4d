import { constants } from 'node:zlib';
import compress from 'koa-compress';
import type { Context, Next } from 'koa';

/** Bodies smaller than this go out as they are: compressing them costs more than it saves. */
export const COMPRESSION_THRESHOLD_BYTES = 1024;

const compressor = compress({
  threshold: COMPRESSION_THRESHOLD_BYTES,
  // gzip first where the client accepts both alike: br cost 2-3x gzip's CPU per response here
  // (scripts/edge-bench.ts, docs/benchmarks.md) for a few % fewer bytes.
  encodingPreference: ['gzip', 'br', 'identity'],
  // br at quality 4 (koa-compress's default; 11 costs ~10x the CPU for a few % less), told the
  // body's size so it sizes its window to it (for a 1.3 KB call: ~4x less time per response).
  br: (_type: string, size: number) => ({ params: { [constants.BROTLI_PARAM_QUALITY]: 4, [constants.BROTLI_PARAM_SIZE_HINT]: size } }),
  gzip: {},
  deflate: false,
  zstd: false,
});

/**
 * Responses over 1 KB compressed with gzip or br as Accept-Encoding asks (koa-compress), with
 * `Vary: Accept-Encoding` on every response. A JSON body is serialised once, here: left as an
 * object, Koa would stringify it once for koa-compress's size check and again to send it.
 */
export async function compression(ctx: Context, next: Next): Promise<void> {
  await compressor(ctx, async () => {
    await next();
    const body = ctx.body as unknown;
    if (body !== null && typeof body === 'object' && !Buffer.isBuffer(body) && typeof (body as { pipe?: unknown }).pipe !== 'function') {
      ctx.body = JSON.stringify(body);
    }
  });
}
