import { createHash, timingSafeEqual } from 'node:crypto';
import type { Server } from 'node:http';
import Koa, { type Context } from 'koa';
import type { Registry } from 'prom-client';
import type { Config } from './config.js';
import { answerClientErrors } from './client-errors.js';
import { boundConnections, createHttpServer } from './connections.js';
import type { Logger } from './logger.js';
import { credentialsMissing, unauthorized } from './auth.js';
import { compression } from './compression.js';
import { problemErrors, requestId, securityHeaders } from './middleware.js';
import { HttpProblem } from './problem.js';
import type { SecurityScheme } from './security.js';

/** The most connections the METRICS_PORT listener holds at once (HTTP_MAX_CONNECTIONS, if lower). */
export const METRICS_MAX_CONNECTIONS = 64;

/** The digest of a token, so that comparing two takes the same time whatever they hold. */
const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * Who may read /metrics (METRICS_TOKEN, METRICS_PORT; README "Operations and metrics"): on the
 * API listener (`listener: 'api'`) nobody when the metrics have a listener of their own (404, as
 * if there were none), else anyone holding the token when one is set, else anyone.
 */
export function checkMetricsAccess(metrics: Config['metrics'], listener: 'api' | 'metrics', ctx: Context): void {
  if (listener === 'api' && metrics.port !== undefined) {
    throw new HttpProblem(404, 'No metrics on this listener: they are served on their own port (METRICS_PORT).');
  }
  if (metrics.token === undefined) return;
  const [scheme, token, ...rest] = ctx.get('Authorization').trim().split(/\s+/);
  const given = /^Bearer$/i.test(scheme ?? '') && token && rest.length === 0 ? token : undefined;
  if (given === undefined) throw credentialsMissing('metrics');
  if (!timingSafeEqual(digest(given), digest(metrics.token))) throw unauthorized('The metrics token is wrong.', { realm: 'metrics', error: 'invalid_token' });
}

/**
 * The contract's `metricsToken` scheme. /metrics states it beside an empty alternative (whether a
 * token is needed is the operator's setting), so authentication lets every request through and
 * the operation checks the token itself (checkMetricsAccess); this scheme holds for any request
 * that checkMetricsAccess would let through.
 */
export function metricsTokenScheme(metrics: Config['metrics']): SecurityScheme {
  return {
    realm: 'metrics',
    check: (ctx) => {
      if (metrics.token !== undefined && !ctx.get('Authorization')) return false;
      checkMetricsAccess({ ...metrics, port: undefined }, 'api', ctx);
      return {};
    },
  };
}

/** The Prometheus text of `registry` on the context, for whoever checkMetricsAccess let through. */
export async function sendMetrics(registry: Registry, ctx: Context): Promise<void> {
  ctx.type = registry.contentType;
  ctx.body = await registry.metrics();
}

/**
 * The listener of METRICS_PORT on METRICS_HOST: GET /metrics and nothing else, so a scraper can
 * be let in on another interface or port than the API's.
 */
export function listenForMetrics(config: Config, registry: Registry, logger: Logger): Promise<Server> {
  const app = new Koa({ proxy: false });
  app.silent = true;
  app.use(requestId);
  // The same cross-cutting headers as the API listener's: getMetrics' responses declare them.
  app.use(securityHeaders);
  app.use(compression);
  app.use(problemErrors(logger));
  app.use(async (ctx) => {
    if (ctx.path !== '/metrics') throw new HttpProblem(404, `Only /metrics is served here, not ${ctx.path}.`);
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      throw new HttpProblem(405, `${ctx.method} is not supported on /metrics; use GET.`, { headers: { Allow: 'GET, HEAD' } });
    }
    checkMetricsAccess(config.metrics, 'metrics', ctx);
    await sendMetrics(registry, ctx);
  });
  return new Promise((resolve, reject) => {
    const server = createHttpServer(app.callback()).listen(config.metrics.port, config.metrics.host);
    // The API's caps and timeouts, at most METRICS_MAX_CONNECTIONS in all: a scraper or two connect here.
    const limits = config.connections;
    boundConnections(server, { max: Math.min(limits.max, METRICS_MAX_CONNECTIONS), perClient: limits.perClient }, logger, 'metrics');
    answerClientErrors(server, app.callback(), logger);
    server.once('error', reject);
    server.once('listening', () => {
      logger.info({ url: `http://${config.metrics.host}:${config.metrics.port}/metrics` }, 'metrics listening');
      resolve(server);
    });
  });
}
