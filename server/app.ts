import Koa from 'koa';
import type { Registry } from 'prom-client';
import type { Database } from '../db/pool.js';
import { verifyBearer } from './auth.js';
import { readBody } from './body.js';
import { compression } from './compression.js';
import { conditionalRequests } from './conditional.js';
import type { Config } from './config.js';
import { corsFor } from './cors.js';
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
import { metricsTokenScheme } from './metrics-access.js';
import { observeRequests, problemErrors, requestId, securityHeaders } from './middleware.js';
import { loadContract } from './openapi.js';
import { rateLimit } from './rate-limit.js';
import { compileRoutes, handle, matchRoutes } from './routes.js';
import { authenticate, authorise, bearerAuth } from './security.js';
import { loadSpec } from './spec.js';
import { validate } from './validation.js';

/**
 * The whole HTTP service, as one middleware chain read top to bottom, in the order of
 * DESIGN.md section 1. Every stage after `matchRoutes` reads the matched operation's compiled
 * route (routes.ts): its security, roles, body limit, validator and handler.
 */
export async function createApp(
  deps: { config: Config; db: Database; logger: Logger; gongSync: GongSyncWorker },
): Promise<Koa & { metrics: Registry; drainRateLimits: () => Promise<void> }> {
  const { config, db, logger } = deps;
  const spec = loadSpec();
  const metrics = createMetrics(db, config.instanceId);
  const schemes = { bearerAuth, metricsToken: metricsTokenScheme(config.metrics), ...gongSecurity(config.gongWebhook) };
  const routes = compileRoutes(
    await loadContract(spec.document),
    {
      ...systemHandlers(db, spec, metrics.registry, config.metrics),
      ...callHandlers(db),
      ...transcriptHandlers(db, spec.document),
      ...analysisHandlers(db),
      ...repHandlers(db),
      ...webhookHandlers(db),
      ...syncHandlers(db, deps.gongSync),
    },
    schemes,
  );

  const limits = rateLimit(db, config.rateLimit, logger);

  // X-Forwarded-For decides ctx.ip (logs, per-IP limits) only when the proxy in front is trusted.
  const app = new Koa({ proxy: config.proxy.trust, maxIpsCount: config.proxy.maxIps });
  app.silent = true; // errors are answered and logged by problemErrors
  // 1. cross-cutting
  app.use(requestId);
  app.use(observeRequests(logger, metrics.record)); // the metrics series and the log line of each request
  app.use(securityHeaders);
  app.use(corsFor(config.corsOrigins)); // a listed origin's preflight is answered here
  app.use(compression);
  app.use(problemErrors(logger));
  app.use(serveDocsAssets);
  // 2. match the operation (404, 405)
  app.use(matchRoutes(routes));
  // 3. authenticate (401), before anything of the body is read
  app.use(verifyBearer(config));
  app.use(limits); // per verified token sub, else per address; 429
  app.use(authenticate(schemes));
  // 4. authorise by role (403)
  app.use(authorise);
  // 5. read the body (413, 415, 400)
  app.use(readBody);
  // 6. validate parameters and body (400)
  app.use(validate);
  // 7. the operation's handler (conditional requests: ETag, 304)
  app.use(conditionalRequests(spec.document));
  app.use(handle);
  // For main.ts: METRICS_PORT's listener, and the shutdown's last write of rate-limit hits.
  return Object.assign(app, { metrics: metrics.registry, drainRateLimits: limits.drain });
}
