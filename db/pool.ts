import { createPool, type DatabasePool, type DatabasePoolConnection, type DatabaseTransactionConnection } from 'slonik';
import { PoolTimeoutError } from './errors.js';
import { resultParser } from './rows.js';

export type PoolOptions = {
  url: string;
  /** Most connections the pool opens. */
  maxConnections: number;
  /** How long a query waits for a free connection before PoolTimeoutError. */
  acquireTimeoutMs: number;
  /** PostgreSQL cancels any statement running longer than this. */
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

/**
 * Every session runs in UTC (so JSON built by PostgreSQL carries RFC 3339 UTC timestamps) and
 * names itself, so its connections can be told apart in pg_stat_activity.
 */
function withSessionSettings(url: string): string {
  const parsed = new URL(url);
  const options = parsed.searchParams.get('options');
  parsed.searchParams.set('options', [options, '-c TimeZone=UTC'].filter(Boolean).join(' '));
  if (!parsed.searchParams.has('application_name')) parsed.searchParams.set('application_name', APPLICATION_NAME);
  return parsed.toString();
}

/** One Slonik pool for the process, with an acquisition timeout Slonik itself does not have. */
export async function createDatabase(options: PoolOptions): Promise<Database> {
  const pool = await createPool(withSessionSettings(options.url), {
    maximumPoolSize: options.maxConnections,
    statementTimeout: options.statementTimeoutMs,
    connectionTimeout: options.connectTimeoutMs,
    idleTimeout: 30_000,
    // Fail fast when PostgreSQL is down: a request should get its 503, not wait for retries.
    connectionRetryLimit: 1,
    captureStackTrace: false,
    // A serialization failure or deadlock (40001, 40P01) is retried once, in a fresh transaction
    // (or for a lone statement); a second one reaches the caller, who answers 503.
    transactionRetryLimit: 1,
    queryRetryLimit: 1,
    interceptors: options.parseRows === false ? [] : [resultParser],
    // No DISCARD ALL on release (a round trip per request): nothing here leaves session state
    // behind (docs/benchmarks.md, first round, item 5; the hand-back test in reliability.spec.ts checks it).
    resetConnection: async () => {},
  });

  const connect = <T>(routine: (connection: DatabasePoolConnection) => Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    let abandoned = false;
    const work = pool.connect(async (connection) => {
      clearTimeout(timer);
      // The caller gave up while this request waited in the queue: hand the connection back by
      // returning (Slonik destroys a connection whose routine throws; after a crash, a queue of
      // abandoned waiters would then destroy every new connection as it opened).
      if (abandoned) return undefined as T;
      return routine(connection);
    });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abandoned = true;
        reject(new PoolTimeoutError(options.acquireTimeoutMs));
      }, options.acquireTimeoutMs);
    });
    work.catch(() => {}); // its rejection, if it loses the race, is reported by `timeout`
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  };

  return {
    connect,
    transaction: (routine) => connect((connection) => connection.transaction(routine)),
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
