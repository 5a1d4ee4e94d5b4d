import type { Context, Middleware, Next } from 'koa';
import type { Database } from '../db/pool.js';
import { addHits, forgetEndedWindows, type WindowCount } from '../db/rate-limits.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { HttpProblem } from './problem.js';

/**
 * The probes and the scrape: an orchestrator's checks and a metrics scraper must never be
 * throttled (/metrics may also be served on its own listener, METRICS_PORT, which has no limit).
 */
const UNCOUNTED = new Set(['/health', '/ready', '/metrics']);
/** The last share of a quota is counted in PostgreSQL request by request (see rateLimit). */
const EXACT_SHARE = 0.1;
/** Hits counted locally reach PostgreSQL within this time. */
const FLUSH_MS = 100;
/** Most clients tracked locally; beyond, new clients are counted in PostgreSQL request by request. */
const LOCAL_KEYS_MAX = 100_000;

/** A client's window as this process knows it. */
type Window = {
  /** PostgreSQL's count at the last exchange. */
  hits: number;
  /** Hits admitted here and not yet added in PostgreSQL. */
  pending: number;
  /** When the window ends, on this process's clock (0: unknown, ask PostgreSQL). */
  endsAt: number;
};

/** Whose quota a request spends: the verified token's subject, else the client's address. */
function clientKey(ctx: Context): string {
  const sub = (ctx.state.jwtClaims as { sub?: unknown } | undefined)?.sub;
  return typeof sub === 'string' ? `sub:${sub}` : `ip:${ctx.ip}`;
}

/** The stage, and `drain`: writes the hits counted here but not yet in PostgreSQL (at shutdown, before the pool closes). */
export type RateLimit = Middleware & { drain: () => Promise<void> };

/**
 * Rate limits per token `sub` (per client IP without a valid token), shared by all replicas
 * through PostgreSQL (db/rate-limits.ts), announced on every counted response in the
 * draft-ietf-httpapi-ratelimit-headers form (`RateLimit-Policy: "default";q=600;w=60`,
 * `RateLimit: "default";r=599;t=60`); beyond the quota, 429 with Retry-After.
 *
 * Two tiers, because a PostgreSQL round trip per request costs GET a large share of its
 * throughput (docs/benchmarks.md). A client's first request of a window, and every request in
 * the last EXACT_SHARE of its quota, waits for PostgreSQL's count (exact: a 429 is always
 * PostgreSQL's verdict). In between, a request is admitted on the local estimate (PostgreSQL's
 * count at the last exchange plus the hits admitted here since) and its hit reaches PostgreSQL
 * in a batch within FLUSH_MS. Other replicas' hits thus show up here within FLUSH_MS, which
 * bounds how far a client spread over replicas can overshoot before the exact tier takes over.
 */
export function rateLimit(db: Database, limits: Config['rateLimit'], logger: Logger): RateLimit {
  const { requests: quota, windowSeconds } = limits;
  const policy = `"default";q=${quota};w=${windowSeconds}`;
  const exactFrom = quota - Math.max(1, Math.ceil(quota * EXACT_SHARE));
  const windows = new Map<string, Window>();
  let flushing: Promise<void> | undefined;
  let flushTimer: NodeJS.Timeout | undefined;

  /** Takes in PostgreSQL's count for one window. */
  function absorb(window: Window, count: WindowCount, now: number): void {
    const endsAt = now + count.resetSeconds * 1000;
    // A later window, or the same one (answers to concurrent exchanges arrive in any order).
    window.hits = endsAt > window.endsAt + 1000 ? count.hits : Math.max(window.hits, count.hits);
    window.endsAt = Math.max(window.endsAt, endsAt);
  }

  async function flush(): Promise<void> {
    flushTimer = undefined;
    const now = Date.now();
    const batch: { key: string; hits: number }[] = [];
    for (const [key, window] of windows) {
      if (window.pending > 0) {
        batch.push({ key, hits: window.pending });
        window.pending = 0;
      } else if (window.endsAt < now) {
        windows.delete(key);
      }
    }
    if (batch.length === 0) return;
    try {
      for (const count of await addHits(db, batch, windowSeconds)) {
        const window = windows.get(count.key);
        if (window) absorb(window, count, now);
      }
    } catch (error) {
      // Kept for the next flush: the hits still count once PostgreSQL answers again.
      for (const { key, hits } of batch) {
        const window = windows.get(key);
        if (window) window.pending += hits;
      }
      logger.warn({ err: error }, 'rate limit counts could not be written; retrying');
      scheduleFlush();
    }
  }

  let draining = false;

  function scheduleFlush(): void {
    if (draining) return;
    flushTimer ??= setTimeout(() => {
      flushing = (flushing ?? Promise.resolve()).then(flush);
    }, FLUSH_MS).unref();
  }

  // Rows of ended windows go, once per window (every replica does it; it is cheap and idempotent).
  setInterval(() => {
    forgetEndedWindows(db, windowSeconds).catch((error: unknown) => logger.warn({ err: error }, 'forgetting ended rate limit windows failed'));
  }, windowSeconds * 1000).unref();

  type Spent = { remaining: number; resetSeconds: number; over: boolean };

  /** This request counted on the local estimate, or undefined when PostgreSQL must count it (`spendExactly`). */
  function spendLocally(key: string, now: number): Spent | undefined {
    const window = windows.get(key);
    if (!window || now >= window.endsAt || window.hits + window.pending + 1 > exactFrom) return undefined;
    window.pending += 1;
    scheduleFlush();
    return { remaining: quota - window.hits - window.pending, resetSeconds: Math.ceil((window.endsAt - now) / 1000), over: false };
  }

  /** This hit and any not yet sent, counted in PostgreSQL now. */
  async function spendExactly(key: string, now: number): Promise<Spent> {
    let window = windows.get(key);
    if (!window && windows.size < LOCAL_KEYS_MAX) windows.set(key, (window = { hits: 0, pending: 0, endsAt: 0 }));
    const carried = window && now < window.endsAt ? window.pending : 0;
    if (window) window.pending -= carried;
    const [count] = await addHits(db, [{ key, hits: carried + 1 }], windowSeconds);
    if (window) absorb(window, count!, now);
    return { remaining: Math.max(0, quota - count!.hits), resetSeconds: count!.resetSeconds, over: count!.hits > quota };
  }

  function answer(ctx: Context, key: string, next: Next, { remaining, resetSeconds, over }: Spent): Promise<void> {
    ctx.res.setHeader('RateLimit-Policy', policy); // not ctx.set: see requestId (middleware.ts)
    ctx.res.setHeader('RateLimit', `"default";r=${remaining};t=${resetSeconds}`);
    if (over) {
      const who = key.startsWith('sub:') ? `token subject "${key.slice(4)}"` : `client address ${key.slice(3)} (no valid token)`;
      throw new HttpProblem(429, `More than ${quota} requests in ${windowSeconds} s from ${who}; retry after ${resetSeconds} s.`, {
        headers: { 'Retry-After': String(resetSeconds) },
      });
    }
    return next();
  }

  /** The last flush, once no request is being answered: nothing is scheduled after it. */
  async function drain(): Promise<void> {
    draining = true;
    clearTimeout(flushTimer);
    flushTimer = undefined;
    await flushing;
    await flush();
  }

  // Not async on the local tier (most requests): no promise or microtask of its own.
  const middleware: Middleware = (ctx: Context, next: Next) => {
    if (UNCOUNTED.has(ctx.path)) return next();
    const key = clientKey(ctx);
    const now = Date.now();
    const spent = spendLocally(key, now);
    if (spent) return answer(ctx, key, next, spent);
    return spendExactly(key, now).then((exact) => answer(ctx, key, next, exact));
  };
  return Object.assign(middleware, { drain });
}
