import type { Context, Next } from 'koa';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { registerPoolMetrics } from '../db/metrics.js';
import type { Database } from '../db/pool.js';
import type { Route } from './routes.js';

export type Metrics = {
  registry: Registry;
  /** Koa middleware: counts and times every request by the operation it matched, method and status. */
  middleware: (ctx: Context, next: Next) => Promise<void>;
};

/** Requests that match no operation share one label value, so label cardinality stays bounded. */
const NO_OPERATION = 'none';

/** One registry per app (not prom-client's global one): process defaults, pool state, HTTP, labelled by instance. */
export function createMetrics(db: Database, instanceId: string): Metrics {
  const registry = new Registry();
  // Every series of this replica carries its instance, so a scraper behind one address still tells replicas apart.
  registry.setDefaultLabels({ instance: instanceId });
  collectDefaultMetrics({ register: registry, prefix: 'call_coach_' });
  registerPoolMetrics(registry, db);

  const labelNames = ['operation_id', 'method', 'status'] as const;
  const requests = new Counter({
    name: 'call_coach_http_requests_total',
    help: 'HTTP requests answered, by operation and status.',
    labelNames,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'call_coach_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by operation and status.',
    labelNames,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  const middleware = async (ctx: Context, next: Next): Promise<void> => {
    const started = performance.now();
    try {
      await next();
    } finally {
      // Set by matchRoutes (routes.ts); a request answered before it (docs assets) or matching no operation has none.
      const operationId = (ctx.state.route as Route | undefined)?.operationId;
      const labels = { operation_id: operationId ?? NO_OPERATION, method: ctx.method, status: String(ctx.status) };
      requests.inc(labels);
      duration.observe(labels, (performance.now() - started) / 1000);
    }
  };
  return { registry, middleware };
}
