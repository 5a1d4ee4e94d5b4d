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

/** The first segment of a request path (`/calls/x/y` → `calls`), the key of its router. */
function firstSegment(path: string): string {
  const end = path.indexOf('/', 1);
  return end === -1 ? path.slice(1) : path.slice(1, end);
}

/**
 * 2. match: @koa/router routes, one layer per path template of the contract, one router per first
 * path segment (a request tests only its own segment's templates: @koa/router tries every layer
 * of a router in turn). The most specific template wins (the fewest parameters, as OpenAPI says);
 * a path no operation has is a 404, a method the path lacks a 405 with `Allow`. (@koa/router
 * answers HEAD with a GET route; the contract declares no HEAD: 405.)
 */
export function matchRoutes(routes: Route[]): Middleware {
  const templates = new Map<string, Map<string, Map<string, Route>>>(); // segment → template → method → route
  for (const route of routes) {
    const { path, method } = route.operation;
    const segment = firstSegment(path);
    const paths = templates.get(segment) ?? new Map<string, Map<string, Route>>();
    templates.set(segment, paths);
    const byMethod = paths.get(path) ?? new Map<string, Route>();
    paths.set(path, byMethod);
    byMethod.set(method, route);
  }
  const routers = new Map<string, ReturnType<Router['routes']>>();
  for (const [segment, paths] of templates) {
    const router = new Router({ exclusive: 'specificity', sensitive: true });
    for (const [path, byMethod] of paths) {
      router.register(koaPath(path), [...byMethod.keys()], (ctx, next) => {
        const route = byMethod.get(ctx.method);
        if (route) ctx.state.route = route;
        return next();
      });
    }
    routers.set(segment, router.routes());
  }
  const unmatched = (ctx: Context) => {
    const matched = (ctx as { matched?: { methods: string[] }[] }).matched ?? [];
    const allowed = [...new Set(matched.flatMap((layer) => layer.methods))].filter((method) => method !== 'HEAD');
    if (allowed.length === 0) throw new HttpProblem(404, `No resource at ${ctx.method} ${ctx.path}; see /docs for what exists.`);
    throw new HttpProblem(405, `${ctx.method} is not supported on ${ctx.path}; it allows ${allowed.join(', ')}. See /docs.`, {
      headers: { Allow: allowed.join(', ') },
    });
  };
  return (ctx, next) => {
    const dispatch = routers.get(firstSegment(ctx.path));
    if (!dispatch) return unmatched(ctx);
    return dispatch(ctx as never, () => (ctx.state.route ? next() : unmatched(ctx)));
  };
}

/** 7. handler: the operation's own, given the request as validated. */
export const handle: Middleware = (ctx) => {
  const route = routeOf(ctx);
  return route.handler({ operation: route.operation, request: ctx.state.request, security: ctx.state.security }, ctx);
};
