import type { Registry } from 'prom-client';
import { pingDatabase } from '../../db/health.js';
import type { Database } from '../../db/pool.js';
import { DOCS_HTML } from '../docs.js';
import type { OperationHandler } from '../openapi.js';

export function systemHandlers(db: Database, spec: { yaml: string; document: Record<string, unknown> }, metrics: Registry) {
  const json = JSON.stringify(spec.document);
  return {
    getHealth: ((_c, ctx) => {
      ctx.body = { status: 'ok' };
    }) satisfies OperationHandler,

    getReady: (async (_c, ctx) => {
      const database = await pingDatabase(db)
        .then((latency) => ({ reachable: true, latency_ms: latency }))
        .catch((error: Error) => ({ reachable: false, error: error.message }));
      ctx.status = database.reachable ? 200 : 503;
      if (!database.reachable) ctx.set('Retry-After', '2');
      ctx.body = { status: database.reachable ? 'ready' : 'not_ready', database, pool: db.state() };
    }) satisfies OperationHandler,

    getMetrics: (async (_c, ctx) => {
      ctx.type = metrics.contentType;
      ctx.body = await metrics.metrics();
    }) satisfies OperationHandler,

    getOpenApiJson: ((_c, ctx) => {
      ctx.type = 'application/json';
      ctx.body = json;
    }) satisfies OperationHandler,

    getOpenApiYaml: ((_c, ctx) => {
      ctx.type = 'application/yaml; charset=utf-8';
      ctx.body = spec.yaml;
    }) satisfies OperationHandler,

    getDocs: ((_c, ctx) => {
      ctx.type = 'text/html; charset=utf-8';
      ctx.body = DOCS_HTML;
    }) satisfies OperationHandler,
  };
}
