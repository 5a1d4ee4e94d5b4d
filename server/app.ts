import { bodyParser } from '@koa/bodyparser';
import Koa from 'koa';
import type { Registry } from 'prom-client';
import type { Database } from '../db/pool.js';
import { verifyBearer } from './auth.js';
import { conditionalRequests } from './conditional.js';
import type { Config } from './config.js';
import { serveDocsAssets } from './docs.js';
import { gongSecurity } from './gong.js';
import type { GongSyncWorker } from './gong-sync-worker.js';
import { analysisHandlers } from './handlers/analyses.js';
import { callHandlers } from './handlers/calls.js';
import { repHandlers } from './handlers/reps.js';
import { syncHandlers } from './handlers/sync.js';
import { transcriptHandlers } from './handlers/transcripts.js';
import { webhookHandlers } from './handlers/webhooks.js';
import { systemHandlers } from './handlers/system.js';
import type { Logger } from './logger.js';
import { createMetrics } from './metrics.js';
import { problemErrors, requestId, requestLogger, securityHeaders } from './middleware.js';
import { createOpenApi, dispatch, initOpenApi } from './openapi.js';
import { loadSpec } from './spec.js';

/** Transcripts are big (up to 10,000 sentences in 2 MiB); every other body is small. */
export function bodyLimitFor(config: Config, method: string, path: string): number {
  return method === 'PUT' && path.endsWith('/transcript') ? config.transcriptBodyLimitBytes : config.bodyLimitBytes;
}

function jsonBodies(config: Config): Koa.Middleware {
  const options = { enableTypes: ['json'] as ['json'], jsonStrict: true, encoding: 'utf-8' };
  const small = bodyParser({ ...options, jsonLimit: config.bodyLimitBytes });
  const large = bodyParser({ ...options, jsonLimit: config.transcriptBodyLimitBytes });
  return (ctx, next) => (bodyLimitFor(config, ctx.method, ctx.path) === config.bodyLimitBytes ? small : large)(ctx, next);
}

/** The whole HTTP service, as one middleware chain read top to bottom. */
export async function createApp(deps: { config: Config; db: Database; logger: Logger; gongSync: GongSyncWorker }): Promise<Koa & { metrics: Registry }> {
  const { config, db, logger } = deps;
  const spec = loadSpec();
  const metrics = createMetrics(db);
  const api = createOpenApi(spec.document, {
    ...systemHandlers(db, spec, metrics.registry, config.metrics),
    ...callHandlers(db),
    ...transcriptHandlers(db, spec.document),
    ...analysisHandlers(db),
    ...repHandlers(db),
    ...webhookHandlers(db),
    ...syncHandlers(db, deps.gongSync),
  }, gongSecurity(config.gongWebhook));
  await initOpenApi(api); // compile every request validator and route now, not on the first request

  const app = new Koa({ proxy: false });
  app.silent = true; // errors are answered and logged by problemErrors
  app.use(requestId);
  app.use(requestLogger(logger));
  app.use(metrics.middleware(api));
  app.use(securityHeaders);
  app.use(problemErrors);
  app.use(serveDocsAssets);
  app.use(verifyBearer(config.jwtSecret));
  app.use(jsonBodies(config));
  app.use(conditionalRequests(spec.document));
  app.use(dispatch(api));
  return Object.assign(app, { metrics: metrics.registry }); // for METRICS_PORT's listener (main.ts)
}
