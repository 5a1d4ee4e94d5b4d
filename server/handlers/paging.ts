import type { OperationContext } from '../openapi.js';

/** `limit` (default 50; the contract bounds it) and `cursor` of a list operation. */
export function pageOptions(c: OperationContext): { limit: number; cursor?: string } {
  const query = c.request.query as Record<string, string | undefined>;
  const limit = query.limit === undefined ? 50 : Number(query.limit);
  return { limit, ...(query.cursor ? { cursor: query.cursor } : {}) };
}
