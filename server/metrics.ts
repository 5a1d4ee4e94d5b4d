import type { Context } from 'koa';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { registerPoolMetrics } from '../db/metrics.js';
import type { Database } from '../db/pool.js';
import type { Route } from './routes.js';

export type Metrics = {
  registry: Registry;
  /** Counts one answered request and its duration, by the operation it matched, method and status. */
  record: (ctx: Context, seconds: number) => void;
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

  // The labelled series of each (operation, method, status), looked up once: prom-client hashes
  // a label object on every inc/observe otherwise.
  type Series = { count: { inc: () => void }; time: { observe: (seconds: number) => void } };
  const series = new Map<string, Series>();
  const seriesOf = (operationId: string, method: string, status: number): Series => {
    const key = `${operationId} ${method} ${status}`;
    let found = series.get(key);
    if (!found) {
      const labels = { operation_id: operationId, method, status: String(status) };
      found = { count: requests.labels(labels), time: duration.labels(labels) };
      series.set(key, found);
    }
    return found;
  };

  const record = (ctx: Context, seconds: number): void => {
    // Set by matchRoutes (routes.ts); a request answered before it (docs assets) or matching no operation has none.
    const operationId = (ctx.state.route as Route | undefined)?.operationId;
    const { count, time } = seriesOf(operationId ?? NO_OPERATION, ctx.method, ctx.status);
    count.inc();
    time.observe(seconds);
  };
  return { registry, record };
}
