import { sql, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import type { Database } from './pool.js';
import { noRows, row } from './rows.js';

/** A request carrying an idempotency key: whose key it is, the key, and what was asked. */
export type KeyedRequest = {
  principal: string;
  key: string;
  method: string;
  path: string;
  /** Tells a retry (same fingerprint) from another request reusing the key. */
  fingerprint: string;
};

/** An answer as it is stored with its key and replayed. */
export type StoredResponse = { status: number; location: string | null; body: string };

export type KeyedOutcome =
  | { kind: 'carried_out'; response: StoredResponse }
  | { kind: 'replayed'; response: StoredResponse }
  /** Another request with the key is still running (its transaction holds the key's lock). */
  | { kind: 'in_flight' }
  /** The key was used for a different request. */
  | { kind: 'reused'; method: string; path: string };

const storedKey = row({
  fingerprint: z.string(),
  method: z.string(),
  path: z.string(),
  status: z.number().int(),
  location: z.string().nullable(),
  body: z.string(),
});

/** How many expired keys each keyed request deletes on its way (see migration 008). */
const EXPIRED_KEYS_SWEPT = 10;

/** `db`, with every call running inside `transaction` (a nested transaction is a savepoint). */
function within(db: Database, transaction: DatabaseTransactionConnection): Database {
  return { ...db, connect: (routine) => routine(transaction), transaction: (routine) => transaction.transaction(routine) };
}

/**
 * Carries out `work` once per key: in one transaction, it takes the key's lock (a transaction
 * advisory lock, so a second request with the key while the first runs is told `in_flight`
 * instead of waiting), replays the stored answer of a completed request with the key, or runs
 * `work` and stores its answer with the key in that same transaction. When `work` throws, all of
 * it rolls back: nothing was created and no key is kept.
 */
export function onceForKey(
  db: Database,
  request: KeyedRequest,
  work: (db: Database) => Promise<StoredResponse>,
): Promise<KeyedOutcome> {
  return db.transaction(async (transaction) => {
    const lock = sql.fragment`hashtextextended(${`${request.principal}\n${request.key}`}, 0)`;
    const free = await transaction.oneFirst(sql.type(row({ free: z.boolean() }))`
      SELECT pg_try_advisory_xact_lock(${lock}) AS free`);
    if (!free) return { kind: 'in_flight' };

    const stored = await transaction.maybeOne(sql.type(storedKey)`
      SELECT fingerprint, request_method AS method, request_path AS path, response_status AS status,
             response_location AS location, response_body AS body
      FROM idempotency_keys
      WHERE principal = ${request.principal} AND key = ${request.key} AND expires_at > now()`);
    if (stored) {
      if (stored.fingerprint !== request.fingerprint) return { kind: 'reused', method: stored.method, path: stored.path };
      return { kind: 'replayed', response: { status: stored.status, location: stored.location, body: stored.body } };
    }

    const response = await work(within(db, transaction));
    // Only an expired row can be in the way: the lock keeps other requests with this key out.
    await transaction.query(sql.type(noRows)`
      INSERT INTO idempotency_keys (
        principal, key, fingerprint, request_method, request_path, response_status, response_location, response_body)
      VALUES (
        ${request.principal}, ${request.key}, ${request.fingerprint}, ${request.method}, ${request.path},
        ${response.status}, ${response.location}, ${response.body})
      ON CONFLICT (principal, key) DO UPDATE SET
        fingerprint = EXCLUDED.fingerprint, request_method = EXCLUDED.request_method,
        request_path = EXCLUDED.request_path, response_status = EXCLUDED.response_status,
        response_location = EXCLUDED.response_location, response_body = EXCLUDED.response_body,
        created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at`);
    await transaction.query(sql.type(noRows)`
      DELETE FROM idempotency_keys WHERE (principal, key) IN (
        SELECT principal, key FROM idempotency_keys WHERE expires_at <= now()
        ORDER BY expires_at LIMIT ${EXPIRED_KEYS_SWEPT} FOR UPDATE SKIP LOCKED)`);
    return { kind: 'carried_out', response };
  });
}
