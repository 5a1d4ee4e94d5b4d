/**
 * Idempotency-Key (draft-ietf-httpapi-idempotency-key-header) for the operations that create:
 * the same key with the same request replays the first answer, with another request is a 422,
 * and while the first still runs a 409. Keys belong to the token's `sub`; they are stored in
 * PostgreSQL with what the request created, in its transaction (db/idempotency.ts).
 */
import { hash } from 'node:crypto';
import type { Context } from 'koa';
import { onceForKey, type StoredResponse } from '../db/idempotency.js';
import type { Database } from '../db/pool.js';
import type { Principal } from './auth.js';
import { HttpProblem } from './problem.js';

/** The answer of a create: 201 (202 when only queued), where the new resource lives, and its representation. */
export function created(location: string, body: unknown, status: 201 | 202 = 201): StoredResponse {
  return { status, location, body: JSON.stringify(body) };
}

function send(ctx: Context, response: StoredResponse, replayed: boolean): void {
  ctx.status = response.status;
  if (response.location) ctx.set('Location', response.location);
  ctx.set('Idempotent-Replayed', String(replayed));
  ctx.type = 'application/json';
  ctx.body = response.body;
}

/**
 * The key of an Idempotency-Key field: the draft's structured-field string without its quotes,
 * or a bare value as sent (the contract has checked the field: 1–255 visible ASCII characters).
 */
function keyOf(field: string): string {
  return field.startsWith('"') ? field.slice(1, -1) : field;
}

/**
 * Answers a creating request with `create`'s answer, once per Idempotency-Key when one is sent.
 * `create` gets the database to use: with a key, a transaction that also stores the key, so
 * the key is kept exactly when what `create` wrote commits. Call it after the role check, so a
 * replay never answers a caller the operation would refuse.
 */
export async function respondOnce(ctx: Context, db: Database, create: (db: Database) => Promise<StoredResponse>): Promise<void> {
  const field = ctx.get('Idempotency-Key');
  if (!field) return send(ctx, await create(db), false);
  const request = {
    principal: (ctx.state.principal as Principal).sub,
    key: keyOf(field),
    method: ctx.method,
    path: ctx.path,
    fingerprint: hash('sha256', `${ctx.method} ${ctx.path}\n${JSON.stringify(ctx.state.body ?? null)}`, 'hex'),
  };
  const outcome = await onceForKey(db, request, create);
  switch (outcome.kind) {
    case 'carried_out':
      return send(ctx, outcome.response, false);
    case 'replayed':
      return send(ctx, outcome.response, true);
    case 'in_flight':
      throw new HttpProblem(409, 'A request with this Idempotency-Key is still being processed; retry it unchanged shortly to get its answer.');
    case 'reused':
      throw new HttpProblem(
        422,
        `This Idempotency-Key was used in the last 24 hours for a different request (${outcome.method} ${outcome.path} with another body); use a new key for a new request.`,
      );
  }
}
