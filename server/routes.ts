import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { OpenAPIV3 } from 'openapi-types';
import { operationsOf, type Handlers, type OperationHandler, type OperationId, type SpecOperation } from './openapi.js';
import { HttpProblem } from './problem.js';
import type { SecurityScheme } from './security.js';
import { createValidators, type RequestValidator } from './validation.js';

/**
 * One operation of the contract as the pipeline uses it, compiled once at start. Each stage reads
 * its own property; a new per-operation stage adds one property here and one line in compileRoute.
 */
export type Route = {
  operationId: OperationId;
  /** The operation as the contract states it, dereferenced. */
  operation: SpecOperation;
  /** `security` alternatives (OR), each a list of scheme names (AND); []: public. */
  security: string[][];
  /** `x-roles`: the roles allowed to call it, when the role alone decides (else undefined). */
  roles: readonly string[] | undefined;
  /** How a body is read: `x-body-limit` bytes and the contract's nesting depth; undefined: takes no body. */
  body: { limit: number; maxDepth: number } | undefined;
  validate: RequestValidator;
  handler: OperationHandler;
};

/** The route matched for this request (set by `match`, read by every later stage). */
export function routeOf(ctx: Context): Route {
  return ctx.state.route as Route;
}

/** `/calls/{call_id}` → `/calls/:call_id` (@koa/router's path syntax). */
export function koaPath(template: string): string {
  return template.replace(/\{([^}]+)\}/g, ':$1');
}

export function compileRoutes(
  definition: OpenAPIV3.Document,
  handlers: Handlers,
  schemes: Record<string, SecurityScheme>,
): Route[] {
  const validator = createValidators();
  const maxDepth = (definition.info as { 'x-max-nesting-depth'?: number })['x-max-nesting-depth'];
  if (!Number.isInteger(maxDepth)) throw new Error('openapi.yaml: info.x-max-nesting-depth must state the bodies\' nesting bound');
  return operationsOf(definition).map((operation) => compileRoute(operation, { handlers, schemes, validator, maxDepth: maxDepth! }));
}

function compileRoute(
  operation: SpecOperation,
  context: { handlers: Handlers; schemes: Record<string, SecurityScheme>; validator: (o: SpecOperation) => RequestValidator; maxDepth: number },
): Route {
  const where = `openapi.yaml: ${operation.method} ${operation.path} (${operation.operationId})`;
  const handler = context.handlers[operation.operationId];
  if (!handler) throw new Error(`${where} has no handler`);
  const alternatives = (operation.security ?? []).map((requirement) => Object.keys(requirement));
  // An empty alternative (`- {}`) admits anyone: the operation is public.
  const security = alternatives.some((alternative) => alternative.length === 0) ? [] : alternatives;
  for (const name of security.flat()) if (!context.schemes[name]) throw new Error(`${where}: no security scheme "${name}" is implemented`);
  const limit = operation['x-body-limit'];
  if (operation.requestBody && !Number.isInteger(limit)) throw new Error(`${where} takes a body but states no x-body-limit`);
  return {
    operationId: operation.operationId,
    operation,
    security,
    roles: operation['x-roles'],
    body: operation.requestBody ? { limit: limit!, maxDepth: context.maxDepth } : undefined,
    validate: context.validator(operation),
    handler,
  };
}

/**
 * 2. match: one @koa/router route per operation. The most specific template wins (the fewest
 * parameters, as OpenAPI says); a path no operation has is a 404, a method the path lacks a 405
 * with `Allow`. (@koa/router answers HEAD with a GET route; the contract declares no HEAD: 405.)
 */
export function matchRoutes(routes: Route[]): Middleware {
  const router = new Router({ exclusive: 'specificity', sensitive: true });
  for (const route of routes) {
    router.register(koaPath(route.operation.path), [route.operation.method], (ctx, next) => {
      if (ctx.method === route.operation.method) ctx.state.route = route;
      return next();
    });
  }
  const dispatch = router.routes();
  return (ctx, next) =>
    dispatch(ctx as never, () => {
      if (ctx.state.route) return next();
      const matched = (ctx as { matched?: { methods: string[] }[] }).matched ?? [];
      const allowed = [...new Set(matched.flatMap((layer) => layer.methods))].filter((method) => method !== 'HEAD');
      if (allowed.length === 0) throw new HttpProblem(404, `No resource at ${ctx.method} ${ctx.path}; see /docs for what exists.`);
      throw new HttpProblem(405, `${ctx.method} is not supported on ${ctx.path}; it allows ${allowed.join(', ')}. See /docs.`, {
        headers: { Allow: allowed.join(', ') },
      });
    });
}

/** 7. handler: the operation's own, given the request as validated. */
export const handle: Middleware = async (ctx) => {
  const route = routeOf(ctx);
  await route.handler({ operation: route.operation, request: ctx.state.request, security: ctx.state.security }, ctx);
};
