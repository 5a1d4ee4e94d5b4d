import { createPool, type DatabasePool, type DatabasePoolConnection, type DatabaseTransactionConnection } from 'slonik';
import { DeadlineError, PoolTimeoutError } from './errors.js';
import { resultParser } from './rows.js';
import { quietTracingUnlessConfigured } from './tracing.js';

export type PoolOptions = {
  url: string;
  /** Most connections the pool opens. */
  maxConnections: number;
  /** How long a query waits for a free connection before PoolTimeoutError. */
  acquireTimeoutMs: number;
  /**
   * The statement timeout PostgreSQL applies to this pool's sessions. Not sent by the pool (a
   * pooler refuses startup parameters): the service makes it its role's default at start
   * (session-defaults.ts). Here it bounds each call's deadline (see `connect`).
   */
  statementTimeoutMs: number;
  /** How long opening a new connection may take. */
  connectTimeoutMs: number;
  /** Check every row against its query's zod schema (rows.ts); on unless false. */
  parseRows?: boolean;
};

/**
 * The pool's counters, as the contract's PoolState names them. `total` counts every connection
 * holding a slot, including those still being opened and those being destroyed (`pending_destroy`:
 * a connection whose backend died, until its slot is freed).
 */
export type PoolSnapshot = Record<'max' | 'total' | 'idle' | 'active' | 'pending_destroy' | 'waiting', number>;

export type Database = {
  /** Runs `routine` on one pooled connection (several statements, no transaction). */
  connect: <T>(routine: (connection: DatabasePoolConnection) => Promise<T>) => Promise<T>;
  /** Runs `routine` in one transaction: it commits when `routine` resolves, rolls back when it throws. */
  transaction: <T>(routine: (transaction: DatabaseTransactionConnection) => Promise<T>) => Promise<T>;
  state: () => PoolSnapshot;
  end: () => Promise<void>;
  /** The underlying Slonik pool, for the few callers that need it directly (tests). */
  pool: DatabasePool;
};

export const APPLICATION_NAME = 'call-coach-api';

/** A transaction's attempts within its call's deadline (see `bounded`). */
type Attempt = { commit: () => void; retry: () => void };

/**
 * A transaction that fails on a serialization failure or deadlock (SQLSTATE class 40, told as
 * Slonik's own retry tells it) runs once more, in a fresh transaction; a second one reaches the
 * caller, who answers 503.
 */
const TRANSACTION_RETRIES = 1;
const isTransactionRollback = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('40');
};

/**
 * Each connection names itself, so it can be told apart in pg_stat_activity (a startup parameter
 * PgBouncer passes on). Nothing else is sent at startup: time zone and timeouts are not ours to
 * set there (rows.ts `utc`, session-defaults.ts).
 */
function withApplicationName(url: string): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has('application_name')) parsed.searchParams.set('application_name', APPLICATION_NAME);
  return parsed.toString();
}

/**
 * A call's deadline beyond acquisition plus statement timeout: a statement that times out on
 * the server is reported as such (its own error) before the deadline fires.
 */
export const DEADLINE_MARGIN_MS = 250;

/** One Slonik pool for the process, with an acquisition timeout Slonik itself does not have. */
export async function createDatabase(options: PoolOptions): Promise<Database> {
  quietTracingUnlessConfigured(); // Slonik's spans, recorded by nobody, at no cost (tracing.ts)
  const pool = await createPool(withApplicationName(options.url), {
    maximumPoolSize: options.maxConnections,
    // Not startup parameters (see above): the role's defaults in the database (session-defaults.ts).
    statementTimeout: 'DISABLE_TIMEOUT',
    idleInTransactionSessionTimeout: 'DISABLE_TIMEOUT',
    connectionTimeout: options.connectTimeoutMs,
    idleTimeout: 30_000,
    // Fail fast when PostgreSQL is down: a request should get its 503, not wait for retries.
    connectionRetryLimit: 1,
    captureStackTrace: false,
    // A serialization failure or deadlock (40001, 40P01) of a lone statement is retried once; a
    // transaction's is retried by `transaction` below, within its deadline (Slonik's retry, for
    // `pool.transaction` alone, would not be).
    transactionRetryLimit: 1,
    queryRetryLimit: 1,
    interceptors: options.parseRows === false ? [] : [resultParser],
    // No DISCARD ALL on release (a round trip per request): nothing here leaves session state
    // behind (docs/benchmarks.md, first round, item 5; the hand-back test in reliability.spec.ts checks it).
    resetConnection: async () => {},
  });

  const deadlineMs = options.acquireTimeoutMs + options.statementTimeoutMs + DEADLINE_MARGIN_MS;

  /**
   * Runs `routine` on a pooled connection within two bounds: PoolTimeoutError when no connection
   * of this pool is free within acquireTimeoutMs; DeadlineError when the routine has not finished
   * within `deadlineMs` of the call (a wait Slonik cannot see, in a transaction pooler's queue,
   * or a statement the server did not cancel). The caller gets its error at once; the routine
   * goes on in the background and its result is dropped. A transaction calls `attempt.commit()`
   * before committing: past the deadline it throws (the transaction rolls back), else the deadline
   * stops (a COMMIT runs on the server connection the transaction holds, so it queues nowhere).
   * A transaction that failed on a serialization failure or deadlock, also one at COMMIT, is
   * retried after `attempt.retry()`: the retry gets what is left of the same deadline (none left,
   * or the caller already answered: it throws, and nothing runs again).
   */
  function bounded<T>(routine: (connection: DatabasePoolConnection, attempt: Attempt) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let state = 'queued' as 'queued' | 'running' | 'committing' | 'expired';
      const started = performance.now();
      const expired = () => state === 'expired'; // (a function: TypeScript would narrow `state` across awaits)
      const expire = (error: Error) => {
        state = 'expired';
        reject(error);
      };
      let timer = setTimeout(() => expire(new PoolTimeoutError(options.acquireTimeoutMs)), options.acquireTimeoutMs);
      /** Runs the rest of the deadline; past it, expires the call and throws. */
      const run = () => {
        const left = deadlineMs - (performance.now() - started);
        if (left <= 0) expire(new DeadlineError(deadlineMs));
        if (expired()) throw new DeadlineError(deadlineMs);
        state = 'running';
        timer = setTimeout(() => expire(new DeadlineError(deadlineMs)), left);
      };
      const attempt: Attempt = {
        retry: () => {
          if (expired()) throw new DeadlineError(deadlineMs);
          if (state === 'committing') run(); // its COMMIT failed: the deadline runs again
        },
        commit: () => {
          if (expired()) throw new DeadlineError(deadlineMs);
          clearTimeout(timer);
          state = 'committing';
        },
      };
      pool
        .connect(async (connection) => {
          clearTimeout(timer);
          // The caller gave up while this request waited in the queue: hand the connection back by
          // returning (Slonik destroys a connection whose routine throws; after a crash, a queue of
          // abandoned waiters would then destroy every new connection as it opened).
          if (expired()) return undefined as T;
          try {
            run();
            return await routine(connection, attempt);
          } catch (error) {
            // Rolled back because the deadline passed: the connection is clean, keep it.
            if (error instanceof DeadlineError && expired()) return undefined as T;
            throw error;
          }
        })
        .then(
          (value) => {
            clearTimeout(timer);
            if (!expired()) resolve(value);
          },
          (error: unknown) => {
            clearTimeout(timer);
            if (!expired()) reject(error);
          },
        );
    });
  }

  const connect = <T>(routine: (connection: DatabasePoolConnection) => Promise<T>): Promise<T> => bounded((connection) => routine(connection));

  return {
    connect,
    transaction: (routine) =>
      bounded(async (connection, attempt) => {
        for (let retries = TRANSACTION_RETRIES; ; retries--) {
          try {
            // Not Slonik's retry (transactionRetryLimit): it would run the next attempt outside the deadline.
            return await connection.transaction(async (transaction) => {
              const result = await routine(transaction);
              attempt.commit(); // past the deadline the caller was answered 503: throws, so nothing is committed
              return result;
            }, 0);
          } catch (error) {
            if (retries === 0 || !isTransactionRollback(error)) throw error;
            attempt.retry();
          }
        }
      }),
    state: () => {
      const s = pool.state();
      return {
        max: options.maxConnections,
        total:
          s.acquiredConnections + s.idleConnections + s.pendingReleaseConnections + s.pendingDestroyConnections + s.pendingConnections,
        idle: s.idleConnections,
        active: s.acquiredConnections,
        pending_destroy: s.pendingDestroyConnections,
        waiting: s.waitingClients,
      };
    },
    end: () => pool.end(),
    pool,
  };
}
