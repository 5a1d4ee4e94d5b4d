/** Every environment variable the service reads, parsed and checked once at start. */

export type Config = {
  nodeEnv: string;
  host: string;
  port: number;
  /** Unset: the service runs its own embedded PostgreSQL. */
  databaseUrl: string | undefined;
  embedded: { dataDir: string; port: number; databaseName: string; ephemeral: boolean };
  pool: { maxConnections: number; acquireTimeoutMs: number; statementTimeoutMs: number; connectTimeoutMs: number };
  migrateOnStart: boolean;
  jwtSecret: string;
  bodyLimitBytes: number;
  /** PUT /calls/{id}/transcript only. */
  transcriptBodyLimitBytes: number;
  logLevel: string;
  /** How Gong's webhook deliveries prove themselves; neither set: the webhook refuses everything. */
  gongWebhook: {
    /** PEM public key for the signed-JWT header (RS256). */
    publicKey: string | undefined;
    /** The secret key carried in the webhook URL (`?key=`). */
    urlKey: string | undefined;
    /** This endpoint's public URL, checked against the JWT's `webhook_url` when set. */
    url: string | undefined;
  };
  /** How long SIGTERM waits for in-flight requests before closing anyway. */
  shutdownTimeoutMs: number;
  /** Who may read /metrics: open by default (local use); a bearer token, a listener of its own, or both. */
  metrics: {
    /** When set, /metrics needs `Authorization: Bearer <token>`. */
    token: string | undefined;
    /** When set, /metrics is served only by a listener of its own on this port (and `host`). */
    port: number | undefined;
    host: string;
  };
};

export const DEV_JWT_SECRET = 'call-coach-dev-secret-change-me-0123456789';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}; got "${raw}"`);
  }
  return value;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no'].includes(raw.toLowerCase())) return false;
  throw new ConfigError(`${name} must be true or false; got "${raw}"`);
}

function secretKey(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (!raw) return undefined;
  if (raw.length < 16) throw new ConfigError(`${name} must be 16 characters or more`);
  return raw;
}

export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = env.NODE_ENV ?? 'development';
  const jwtSecret = env.JWT_SECRET || (nodeEnv === 'production' ? undefined : DEV_JWT_SECRET);
  if (!jwtSecret) throw new ConfigError('JWT_SECRET must be set in production (32 characters or more)');
  if (jwtSecret.length < 32) throw new ConfigError('JWT_SECRET must be 32 characters or more');

  return {
    nodeEnv,
    host: env.HOST || '127.0.0.1',
    port: integer(env, 'PORT', 3000, 0, 65535),
    databaseUrl: env.DATABASE_URL || undefined,
    embedded: {
      dataDir: env.EMBEDDED_PG_DIR || '.data/postgres',
      port: integer(env, 'EMBEDDED_PG_PORT', 54329, 1, 65535),
      databaseName: env.EMBEDDED_PG_DATABASE || 'call_coach',
      ephemeral: flag(env, 'EMBEDDED_PG_EPHEMERAL', false),
    },
    pool: {
      maxConnections: integer(env, 'DB_POOL_MAX', 10, 1, 500),
      acquireTimeoutMs: integer(env, 'DB_ACQUIRE_TIMEOUT_MS', 2000, 1, 600_000),
      statementTimeoutMs: integer(env, 'DB_STATEMENT_TIMEOUT_MS', 5000, 1, 3_600_000),
      connectTimeoutMs: integer(env, 'DB_CONNECT_TIMEOUT_MS', 3000, 1, 600_000),
    },
    migrateOnStart: flag(env, 'MIGRATE_ON_START', true),
    jwtSecret,
    bodyLimitBytes: integer(env, 'BODY_LIMIT_BYTES', 1024 * 1024, 1024, 100 * 1024 * 1024),
    transcriptBodyLimitBytes: integer(env, 'TRANSCRIPT_BODY_LIMIT_BYTES', 2 * 1024 * 1024, 1024, 500 * 1024 * 1024),
    logLevel: env.LOG_LEVEL || (nodeEnv === 'test' ? 'warn' : 'info'),
    gongWebhook: {
      // Environment files often carry PEM keys on one line with literal \n.
      publicKey: env.GONG_WEBHOOK_PUBLIC_KEY ? env.GONG_WEBHOOK_PUBLIC_KEY.replace(/\\n/g, '\n') : undefined,
      urlKey: secretKey(env, 'GONG_WEBHOOK_KEY'),
      url: env.GONG_WEBHOOK_URL || undefined,
    },
    shutdownTimeoutMs: integer(env, 'SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
    metrics: {
      token: secretKey(env, 'METRICS_TOKEN'),
      port: env.METRICS_PORT ? integer(env, 'METRICS_PORT', 0, 1, 65535) : undefined,
      host: env.METRICS_HOST || '127.0.0.1',
    },
  };
}
