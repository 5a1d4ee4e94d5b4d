import type { IncomingMessage } from 'node:http';

/**
 * How often the header `name` (lower case) was sent. Node keeps only the first of a repeated
 * Authorization or Content-Type and drops the rest silently, so a proxy that reads the last one
 * and this service would act on different values; such a request is refused instead.
 */
export function headerCount(req: IncomingMessage, name: string): number {
  let count = 0;
  const raw = req.rawHeaders;
  for (let index = 0; index < raw.length; index += 2) {
    const header = raw[index]!;
    if (header.length === name.length && header.toLowerCase() === name) count++;
  }
  return count;
}
