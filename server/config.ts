/** Every environment variable the service reads, parsed and checked once at start. */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import { DEFAULT_SYSTEM_DIR } from '../db/embedded.js';
import { defaultMaxConnections, type ConnectionLimits } from './connections.js';

export type Config = {
  nodeEnv: string;
  host: string;
  port: number;
  /**
   * The most connections each listener holds at once, in all and from one client address (unset:
   * not bounded, behind a proxy); more are answered 503 (server/connections.ts).
   */
  connections: ConnectionLimits;
  /** Unset: the service runs its own embedded PostgreSQL. */
  databaseUrl: string | undefined;
  /** Where migrations run: a direct connection, never a transaction pooler's. Unset: the service's own database. */
  migrationDatabaseUrl: string | undefined;
  /** Behind a load balancer: trust X-Forwarded-For from at most `maxIps` proxies (Koa's app.proxy). */
  proxy: { trust: boolean; maxIps: number };
  /** The `instance` label on every metric series, so each replica's figures stay apart. */
  instanceId: string;
  embedded: {
    dataDir: string;
    port: number;
    databaseName: string;
    ephemeral: boolean;
    /** As root: where the embedded binaries are copied to (and the default data folder lives). */
    systemDir: string;
  };
  pool: {
    maxConnections: number;
    acquireTimeoutMs: number;
    statementTimeoutMs: number;
    /** PostgreSQL ends a session left idle inside a transaction this long. */
    idleInTransactionTimeoutMs: number;
    connectTimeoutMs: number;
    parseRows: boolean;
  };
  migrateOnStart: boolean;
  jwtSecret: string;
  /** How tokens are verified beyond the signature (server/auth.ts). */
  jwt: {
    /** Longest accepted token lifetime, exp minus iat (or now when iat is absent). */
    maxTtlSeconds: number;
    /** Set: RS256/ES256 against this key set, and HS256 is refused. */
    jwksUrl: string | undefined;
    /** Least time between two key-set fetches (a token with an unknown kid triggers one). */
    jwksCooldownSeconds: number;
    /** A fetched key set is used this long before it is fetched again. */
    jwksCacheSeconds: number;
    issuer: string | undefined;
    audience: string | undefined;
  };
  /** Browser origins allowed to call the API (CORS); empty: none. */
  corsOrigins: string[];
  /** Requests per window per token `sub` (per client IP without a valid token). */
  rateLimit: { requests: number; windowSeconds: number };
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
  gongSync: GongSyncConfig;
};

/** Gong's API v2 and the sync from it (issue 14). */
export type GongSyncConfig = {
  baseUrl: string;
  /** Neither key + secret nor a token set: the service cannot sync (runs are refused). */
  auth: { kind: 'basic'; accessKey: string; accessKeySecret: string } | { kind: 'bearer'; token: string } | undefined;
  /** Unset: no scheduled runs. */
  intervalMinutes: number | undefined;
  /** How far a scheduled run reaches back before the end of the last completed window. */
  overlapMinutes: number;
  /** Gong allows 3 per second; this may only be lower. */
  maxRequestsPerSecond: number;
  /** Gong allows 10,000 a day; this may only be lower. */
  dailyRequestLimit: number;
  /** How long a running sync's lease lasts without renewal before another process may take it over. */
  leaseSeconds: number;
};

export const GONG_MAX_REQUESTS_PER_SECOND = 3;
export const GONG_DAILY_REQUEST_LIMIT = 10_000;

export const DEV_JWT_SECRET = 'call-coach-dev-secret-change-me-0123456789';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

/** A numeric setting within [min, max]: a whole number when `whole`, else any finite number. */
function numeric(env: Env, name: string, fallback: number, min: number, max: number, whole: boolean): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!(whole ? Number.isInteger(value) : Number.isFinite(value)) || value < min || value > max) {
    throw new ConfigError(`${name} must be ${whole ? 'an integer' : 'a number'} from ${min} to ${max}; got "${raw}"`);
  }
  return value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  return numeric(env, name, fallback, min, max, true);
}

function decimal(env: Env, name: string, fallback: number, min: number, max: number): number {
  return numeric(env, name, fallback, min, max, false);
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no'].includes(raw.toLowerCase())) return false;
  throw new ConfigError(`${name} must be true or false; got "${raw}"`);
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function logLevel(env: Env, fallback: string): string {
  const raw = env.LOG_LEVEL;
  if (!raw) return fallback;
  if (!LOG_LEVELS.includes(raw)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}; got "${raw}"`);
  return raw;
}

function secretKey(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (!raw) return undefined;
  if (raw.length < 16) throw new ConfigError(`${name} must be 16 characters or more`);
  return raw;
}

function httpUrl(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL; got "${raw}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError(`${name} must be an http(s) URL; got "${raw}"`);
  return raw;
}

/** CORS_ORIGINS: comma-separated origins, each exactly scheme://host[:port] as browsers send it. */
function origins(env: Env, name: string): string[] {
  const list = (env[name] ?? '').split(',').map((item) => item.trim()).filter(Boolean);
  for (const origin of list) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || parsed.origin !== origin) {
      throw new ConfigError(`${name} must list origins like https://app.example.com (scheme, host, optional port; no path or slash); got "${origin}"`);
    }
  }
  return list;
}

/**
 * `.data/postgres` in the project; as root, a folder of this project's own under the system folder:
 * PostgreSQL then runs as the `postgres` user, who cannot reach a clone inside a 0700 folder.
 */
function defaultEmbeddedDataDir(systemDir: string): string {
  if (process.getuid?.() !== 0) return '.data/postgres';
  const project = process.cwd();
  const key = createHash('sha256').update(project).digest('hex').slice(0, 8);
  return path.join(systemDir, 'data', `${path.basename(project)}-${key}`);
}

function gongAuth(env: Env): GongSyncConfig['auth'] {
  const { GONG_ACCESS_KEY: key, GONG_ACCESS_KEY_SECRET: secret, GONG_ACCESS_TOKEN: token } = env;
  if (token && (key || secret)) {
    throw new ConfigError('Set either GONG_ACCESS_KEY and GONG_ACCESS_KEY_SECRET, or GONG_ACCESS_TOKEN, not both');
  }
  if (token) return { kind: 'bearer', token };
  if (Boolean(key) !== Boolean(secret)) throw new ConfigError('GONG_ACCESS_KEY and GONG_ACCESS_KEY_SECRET must be set together');
  return key && secret ? { kind: 'basic', accessKey: key, accessKeySecret: secret } : undefined;
}

function gongBaseUrl(env: Env): string {
  return new URL(httpUrl(env, 'GONG_API_BASE_URL') ?? 'https://api.gong.io').toString().replace(/\/+$/, '');
}

/**
 * HTTP_MAX_CONNECTIONS, and HTTP_MAX_CONNECTIONS_PER_CLIENT: by default a quarter of it, unless
 * TRUST_PROXY says the clients come through a proxy (whose address every connection then shares).
 */
function connectionLimits(env: Env): ConnectionLimits {
  const max = integer(env, 'HTTP_MAX_CONNECTIONS', defaultMaxConnections(), 1, 1_000_000);
  const behindProxy = flag(env, 'TRUST_PROXY', false);
  const raw = env.HTTP_MAX_CONNECTIONS_PER_CLIENT;
  if (raw === undefined || raw === '') return { max, perClient: behindProxy ? undefined : Math.max(1, Math.floor(max / 4)) };
  return { max, perClient: integer(env, 'HTTP_MAX_CONNECTIONS_PER_CLIENT', max, 1, 1_000_000) };
}

export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = env.NODE_ENV ?? 'development';
  const jwksUrl = httpUrl(env, 'JWT_JWKS_URL');
  // With a JWKS, HS256 is refused, so production needs no shared secret.
  const jwtSecret = env.JWT_SECRET || (nodeEnv === 'production' && !jwksUrl ? undefined : DEV_JWT_SECRET);
  if (!jwtSecret) throw new ConfigError('JWT_SECRET must be set in production (32 characters or more), or JWT_JWKS_URL');
  if (jwtSecret.length < 32) throw new ConfigError('JWT_SECRET must be 32 characters or more');

  return {
    nodeEnv,
    host: env.HOST || '127.0.0.1',
    port: integer(env, 'PORT', 3000, 0, 65535),
    connections: connectionLimits(env),
    databaseUrl: env.DATABASE_URL || undefined,
    migrationDatabaseUrl: env.MIGRATION_DATABASE_URL || undefined,
    proxy: { trust: flag(env, 'TRUST_PROXY', false), maxIps: integer(env, 'TRUST_PROXY_MAX_IPS', 1, 0, 100) },
    instanceId: env.INSTANCE_ID || `${hostname()}:${env.PORT || 3000}`,
    embedded: {
      dataDir: env.EMBEDDED_PG_DIR || defaultEmbeddedDataDir(env.EMBEDDED_PG_SYSTEM_DIR || DEFAULT_SYSTEM_DIR),
      port: integer(env, 'EMBEDDED_PG_PORT', 54329, 1, 65535),
      databaseName: env.EMBEDDED_PG_DATABASE || 'call_coach',
      ephemeral: flag(env, 'EMBEDDED_PG_EPHEMERAL', false),
      systemDir: env.EMBEDDED_PG_SYSTEM_DIR || DEFAULT_SYSTEM_DIR,
    },
    pool: {
      maxConnections: integer(env, 'DB_POOL_MAX', 10, 1, 500),
      acquireTimeoutMs: integer(env, 'DB_ACQUIRE_TIMEOUT_MS', 2000, 1, 600_000),
      statementTimeoutMs: integer(env, 'DB_STATEMENT_TIMEOUT_MS', 5000, 1, 3_600_000),
      idleInTransactionTimeoutMs: integer(env, 'DB_IDLE_IN_TRANSACTION_TIMEOUT_MS', 60_000, 1, 3_600_000),
      connectTimeoutMs: integer(env, 'DB_CONNECT_TIMEOUT_MS', 3000, 1, 600_000),
      // Rows are checked in development and tests; production skips the cost (docs/benchmarks.md).
      parseRows: flag(env, 'DB_PARSE_ROWS', nodeEnv !== 'production'),
    },
    migrateOnStart: flag(env, 'MIGRATE_ON_START', true),
    jwtSecret,
    jwt: {
      maxTtlSeconds: integer(env, 'JWT_MAX_TTL_SECONDS', 86_400, 60, 31_536_000),
      jwksUrl,
      jwksCooldownSeconds: integer(env, 'JWT_JWKS_COOLDOWN_SECONDS', 30, 0, 3600),
      jwksCacheSeconds: integer(env, 'JWT_JWKS_CACHE_SECONDS', 600, 1, 86_400),
      issuer: env.JWT_ISSUER || undefined,
      audience: env.JWT_AUDIENCE || undefined,
    },
    corsOrigins: origins(env, 'CORS_ORIGINS'),
    rateLimit: {
      requests: integer(env, 'RATE_LIMIT_REQUESTS', 600, 1, 1_000_000_000),
      windowSeconds: integer(env, 'RATE_LIMIT_WINDOW_SECONDS', 60, 1, 86_400),
    },
    logLevel: logLevel(env, nodeEnv === 'test' ? 'warn' : 'info'),
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
    gongSync: {
      baseUrl: gongBaseUrl(env),
      auth: gongAuth(env),
      intervalMinutes: env.GONG_SYNC_INTERVAL_MINUTES ? integer(env, 'GONG_SYNC_INTERVAL_MINUTES', 60, 1, 10_080) : undefined,
      overlapMinutes: integer(env, 'GONG_SYNC_OVERLAP_MINUTES', 60, 0, 10_080),
      maxRequestsPerSecond: decimal(env, 'GONG_MAX_REQUESTS_PER_SECOND', GONG_MAX_REQUESTS_PER_SECOND, 0.01, GONG_MAX_REQUESTS_PER_SECOND),
      dailyRequestLimit: integer(env, 'GONG_DAILY_REQUEST_LIMIT', GONG_DAILY_REQUEST_LIMIT, 1, GONG_DAILY_REQUEST_LIMIT),
      leaseSeconds: integer(env, 'GONG_SYNC_LEASE_SECONDS', 30, 2, 3600),
    },
  };
}
