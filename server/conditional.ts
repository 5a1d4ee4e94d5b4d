/**
 * Conditional requests (RFC 9110 section 13): `ETag` on the answers whose response the contract
 * declares with one, `If-None-Match` → 304 on GET, and `If-Match` as a precondition of a write.
 *
 * The tag is a SHA-256 of the representation's bytes as sent, so it changes exactly when the
 * representation does, and nothing has to remember to bump it (a version column would miss
 * changes made through other tables: talk times written by a transcript ingest, speakers).
 * A gzip- or br-coded answer is another representation (RFC 9110 8.8.3: a strong tag shared by
 * two codings would be a lie), so its tag carries the coding: `"<sha>-gzip"`, `"<sha>-br"`.
 */
import { hash } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Precondition } from '../db/precondition.js';
import { contentCoding, type ContentCoding } from './compression.js';
import { HttpProblem } from './problem.js';
import { routeOf } from './routes.js';

type Representation = string | object;

/** The JSON text Koa sends for a body: a string as it is, anything else serialised. */
function text(body: Representation): string {
  return typeof body === 'string' ? body : JSON.stringify(body);
}

/** The codings a representation may be sent in (compression.ts), identity first. */
const CODINGS: readonly ContentCoding[] = ['identity', 'gzip', 'br'];

/** The strong entity tag of the representation with `digest` in `coding` (quoted, as the ETag field carries it). */
function tagOf(digest: string, coding: ContentCoding): string {
  return coding === 'identity' ? `"${digest}"` : `"${digest}-${coding}"`;
}

function digestOf(body: Representation): string {
  return hash('sha256', text(body), 'base64url');
}

/** The strong entity tag of a representation in a content coding. */
export function entityTag(body: Representation, coding: ContentCoding = 'identity'): string {
  return tagOf(digestOf(body), coding);
}

/** The tags of a representation in each coding it may be sent in, identity first (one hash). */
function everyCodingsTag(body: Representation): string[] {
  const digest = digestOf(body);
  return CODINGS.map((coding) => tagOf(digest, coding));
}

type EntityTag = { weak: boolean; opaque: string };

const ENTITY_TAG = /(W\/)?("[\x21\x23-\x7e\x80-\xff]*")/g;

/** The members of an If-Match / If-None-Match field value, or `*`; malformed members match nothing. */
function entityTags(field: string): '*' | EntityTag[] {
  if (field.trim() === '*') return '*';
  return [...field.matchAll(ENTITY_TAG)].map((match) => ({ weak: Boolean(match[1]), opaque: match[2]! }));
}

/** If-None-Match holds no tag of `tag`'s (weak comparison, RFC 9110 8.8.3.2). */
function noneMatch(field: string, tag: string): boolean {
  const tags = entityTags(field);
  return tags !== '*' && !tags.some((candidate) => candidate.opaque === tag);
}

/** Operation id → the statuses whose declared response carries an `ETag` header. */
function taggedResponses(document: Record<string, unknown>): Map<string, Set<number>> {
  const tagged = new Map<string, Set<number>>();
  for (const item of Object.values((document.paths ?? {}) as Record<string, Record<string, unknown>>)) {
    for (const operation of Object.values(item) as { operationId?: string; responses?: Record<string, { headers?: object }> }[]) {
      if (!operation?.operationId || !operation.responses) continue;
      const statuses = Object.entries(operation.responses)
        .filter(([, response]) => response.headers && 'ETag' in response.headers)
        .map(([status]) => Number(status));
      if (statuses.length) tagged.set(operation.operationId, new Set(statuses));
    }
  }
  return tagged;
}

/**
 * Tags every answer whose response openapi.yaml declares with an `ETag` header (so declaring it
 * is all an operation needs), and answers a GET whose `If-None-Match` matches with 304.
 * The body is serialised once here, hashed, and sent as those very bytes.
 */
export function conditionalRequests(document: Record<string, unknown>) {
  const tagged = taggedResponses(document);
  return async (ctx: Context, next: Next): Promise<void> => {
    await next();
    const statuses = tagged.get(routeOf(ctx).operationId);
    if (!statuses?.has(ctx.status) || ctx.body == null) return;
    // Only an object is serialised here; a string (most handlers send PostgreSQL's JSON text) is
    // left as it is, sparing Koa's body setter (status, type and length) a second run.
    if (typeof ctx.body !== 'string') ctx.body = text(ctx.body as Representation);
    const body = ctx.body as string;
    // The tag of what compression.ts will send: the same decision, on the same bytes.
    const tag = entityTag(body, contentCoding(ctx, Buffer.byteLength(body)));
    ctx.res.setHeader('ETag', tag); // not ctx.set: see requestId (middleware.ts)
    const ifNoneMatch = ctx.get('If-None-Match');
    if (ifNoneMatch && (ctx.method === 'GET' || ctx.method === 'HEAD') && !noneMatch(ifNoneMatch, tag)) ctx.status = 304;
  };
}

/**
 * The request's `If-Match` as a precondition for the data layer, which runs it inside the write's
 * transaction on the locked resource's current representation (as GET would send it): 412 unless
 * one of the tags matches it strongly, in any content coding (a client that read the resource
 * gzip-coded holds the `-gzip` tag of the same state), or the field is `*` and the resource
 * exists. Undefined when the request sent no If-Match.
 */
export function ifMatch(ctx: Context, what: string): Precondition | undefined {
  const field = ctx.get('If-Match');
  if (!field) return undefined;
  const tags = entityTags(field);
  return (current) => {
    if (current === null) {
      throw new HttpProblem(412, `The ${what} does not exist, so If-Match cannot hold; nothing was changed.`);
    }
    if (tags === '*') return;
    const currentTags = everyCodingsTag(current);
    if (!tags.some((candidate) => !candidate.weak && currentTags.includes(candidate.opaque))) {
      throw new HttpProblem(
        412,
        `The ${what} changed since the ETag sent in If-Match (it is now ${currentTags[0]}); nothing was changed. GET it again for its current state.`,
      );
    }
  };
}
