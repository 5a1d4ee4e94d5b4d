/**
 * The statement and idle-in-transaction timeouts as defaults of the service's role in its
 * database (ALTER ROLE … IN DATABASE … SET), instead of startup parameters, which a transaction
 * pooler refuses (PgBouncer before 1.20: "unsupported startup parameter"). PostgreSQL applies
 * them when a backend starts, so they hold on every connection, direct or pooled, at no cost per
 * request. docs/scaling.md says why this and not SET LOCAL per transaction, and the caveats.
 */
import { sql } from 'slonik';
import { noRows } from './rows.js';
import type { Database } from './pool.js';

export type SessionDefaults = { statementTimeoutMs: number; idleInTransactionTimeoutMs: number };

/** Serialises replicas starting at once: concurrent ALTER ROLEs of one row fail ("tuple concurrently updated"). */
const SESSION_DEFAULTS_LOCK_KEY = 7_241_903_119;

/**
 * Makes `defaults` the role's defaults in the current database (only when they differ, so
 * replicas starting with the same settings write nothing) and sets them on this session too: a
 * server connection a pooler opened before the ALTER keeps what it had (docs/scaling.md:
 * PgBouncer's RECONNECT). One statement; the values are integers checked by the config.
 * The defaults are shared by every process connecting as this role to this database.
 */
export async function applySessionDefaults(db: Database, defaults: SessionDefaults): Promise<void> {
  const statement = sql.literalValue(String(Math.trunc(defaults.statementTimeoutMs)));
  const idle = sql.literalValue(String(Math.trunc(defaults.idleInTransactionTimeoutMs)));
  await db.connect((connection) =>
    connection.query(sql.type(noRows)`
      DO $$
      DECLARE
        wanted text[] := ARRAY['statement_timeout=' || ${statement}, 'idle_in_transaction_session_timeout=' || ${idle}];
        current_settings text[];
      BEGIN
        PERFORM pg_advisory_xact_lock(${sql.literalValue(String(SESSION_DEFAULTS_LOCK_KEY))}::bigint);
        SELECT s.setconfig INTO current_settings FROM pg_db_role_setting s
        WHERE s.setrole = (SELECT oid FROM pg_roles WHERE rolname = current_user)
          AND s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database());
        IF NOT coalesce(current_settings @> wanted, false) THEN
          EXECUTE format('ALTER ROLE %I IN DATABASE %I SET statement_timeout = %s', current_user, current_database(), ${statement});
          EXECUTE format('ALTER ROLE %I IN DATABASE %I SET idle_in_transaction_session_timeout = %s', current_user, current_database(), ${idle});
        END IF;
        PERFORM set_config('statement_timeout', ${statement}, false);
        PERFORM set_config('idle_in_transaction_session_timeout', ${idle}, false);
      END
      $$`),
  );
}
