import type { ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import type { Context } from 'koa';
import { OpenAPIBackend, OpenAPIValidator, type Context as OperationContext, type Handler, type Operation, type Request } from 'openapi-backend';
import { requirePrincipal } from './auth.js';
import type { operations } from './generated/api.js';
import { HttpProblem, type FieldError } from './problem.js';

export type OperationId = keyof operations;
/** An operation handler: it gets the validated request and answers on the Koa context. */
export type OperationHandler = (c: OperationContext, ctx: Context) => void | Promise<void>;
export type Handlers = Record<OperationId, OperationHandler>;

/** The JSON body an operation accepts, as openapi-typescript generated it. */
export type RequestBody<Op extends OperationId> = operations[Op] extends {
  requestBody: { content: { 'application/json': infer B } };
}
  ? B
  : never;
/** The JSON body an operation answers with for `Status`. */
export type ResponseBody<Op extends OperationId, Status extends number> = operations[Op]['responses'] extends Record<
  Status,
  { content: { 'application/json': infer B } }
>
  ? B
  : never;

const LOCATIONS: Record<string, FieldError['location']> = {
  requestBody: 'body',
  path: 'path',
  query: 'query',
  headers: 'header',
  header: 'header',
};

/** Turns Ajv's findings into the problem's `errors`, each naming where and what. */
function fieldErrors(errors: ErrorObject[]): FieldError[] {
  return errors.map((error) => {
    const [, first = '', ...rest] = error.instancePath.split('/');
    let path = rest.length ? `/${rest.join('/')}` : '';
    let message = error.message ?? 'is invalid';
    const params = error.params as Record<string, unknown>;
    if (error.keyword === 'additionalProperties') {
      path += `/${String(params.additionalProperty)}`;
      message = 'is not a known property';
    } else if (error.keyword === 'required') {
      path += `/${String(params.missingProperty)}`;
      message = 'is required';
    } else if (error.keyword === 'enum') {
      message = `must be one of: ${(params.allowedValues as unknown[]).join(', ')}`;
    }
    // A missing body shows up as a failure of the whole requestBody.
    const location = LOCATIONS[first] ?? 'body';
    return { location, path: path || '/', message };
  });
}

function describe(errors: FieldError[]): string {
  const [first] = errors;
  if (!first) return 'The request does not match the contract.';
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more; see errors)` : '';
  return `${first.location}${first.path === '/' ? '' : first.path}: ${first.message}${more}`;
}

/**
 * Every place in a JSON value where a key or a string holds U+0000: PostgreSQL stores neither in
 * text nor in jsonb, so the contract refuses it everywhere (see info.description in openapi.yaml).
 */
export function nulCharacters(value: unknown, path = ''): FieldError[] {
  const escape = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');
  if (typeof value === 'string') {
    return value.includes('\u0000') ? [{ location: 'body', path: path || '/', message: 'must not contain the NUL character (\\u0000)' }] : [];
  }
  if (Array.isArray(value)) return value.flatMap((item, index) => nulCharacters(item, `${path}/${index}`));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, item]) => [
      ...(key.includes('\u0000') ? [{ location: 'body' as const, path: `${path}/${escape(key)}`, message: 'must not contain the NUL character (\\u0000)' }] : []),
      ...nulCharacters(item, `${path}/${escape(key)}`),
    ]);
  }
  return [];
}

/** Methods whose bodies the contract describes. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** Checks one security scheme: truthy when it holds, false when its credential is absent, throws when it is wrong. */
export type SecurityCheck = (ctx: Context) => unknown;

export function createOpenApi(
  document: Record<string, unknown>,
  handlers: Handlers,
  security: Record<string, SecurityCheck> = {},
): OpenAPIBackend {
  const api = new OpenAPIBackend({
    // openapi-backend dereferences in place; keep the served document untouched.
    definition: structuredClone(document) as never,
    strict: true,
    quick: false,
    // initOpenApi() builds the validator: request validators only (see there).
    validate: false,
    coerceTypes: true,
    ajvOpts: { allErrors: true },
    customizeAjv: (ajv) => {
      addFormats.default(ajv);
      return ajv;
    },
  });

  const operationHandlers = handlers as Record<string, Handler>;
  api.register({
    ...operationHandlers,
    // The metrics middleware labels requests with the operation matched here (none: undefined).
    postRoutingHandler: (c: OperationContext, ctx: Context) => {
      ctx.state.operationId = c.operation?.operationId ?? null;
    },
    notFound: (_c, ctx: Context) => {
      throw new HttpProblem(404, `No resource at ${ctx.method} ${ctx.path}; see /docs for what exists.`);
    },
    methodNotAllowed: (_c, ctx: Context) => {
      throw new HttpProblem(405, `${ctx.method} is not supported on ${ctx.path}; see /docs for what exists.`);
    },
    // The first scheme that found a credential and refused it explains the 401.
    unauthorizedHandler: (c: OperationContext) => {
      const results = Object.values(c.security ?? {}) as ({ error?: unknown } | undefined)[];
      const refusal = results.find((result) => result && typeof result === 'object' && result.error)?.error;
      const bearer = c.operation.security?.some((requirement) => 'bearerAuth' in requirement);
      throw (
        refusal ??
        new HttpProblem(401, bearer ? 'Send a bearer token: Authorization: Bearer <JWT>.' : 'Authenticate the delivery as configured in Gong.', {
          headers: { 'WWW-Authenticate': bearer ? 'Bearer realm="call-coach"' : 'Bearer realm="gong-webhook"' },
        })
      );
    },
    // After auth (a 401 comes first), before validation: a non-JSON body is a 415, not a 400,
    // and text PostgreSQL cannot store (NUL) is a 400 naming where it is, not a database error.
    postSecurityHandler: (c: OperationContext, ctx: Context) => {
      if (!c.security?.authorized && (c.operation.security?.length ?? 0) > 0) return;
      if (!c.operation.requestBody || !BODY_METHODS.has(ctx.method)) return;
      const hasBody = Boolean(ctx.get('content-length') && ctx.get('content-length') !== '0') || ctx.get('transfer-encoding');
      if (hasBody && !ctx.is('application/json')) {
        throw new HttpProblem(415, `Send the body as application/json (got ${ctx.get('content-type') || 'no content type'}).`);
      }
      const errors = nulCharacters(ctx.request.body);
      if (errors.length) throw new HttpProblem(400, describe(errors), { errors });
    },
    validationFail: (c: OperationContext) => {
      const errors = fieldErrors(c.validation.errors ?? []);
      throw new HttpProblem(400, describe(errors), { errors });
    },
  });
  api.registerSecurityHandler('bearerAuth', (_c, ctx: Context) => {
    ctx.state.principal = requirePrincipal(ctx);
    return ctx.state.principal;
  });
  for (const [name, check] of Object.entries(security)) {
    api.registerSecurityHandler(name, (_c, ctx: Context) => check(ctx));
  }
  return api;
}

/** openapi-backend's own path-template pattern: literal parts escaped, `{param}` is one segment. */
function templatePattern(path: string): RegExp {
  const literal = (part: string) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${path.replace(/\{[^}]+\}/g, '\0').split('\0').map(literal).join('[^/]+')}$`);
}

/**
 * openapi-backend's router rebuilds its operation list (lodash chains copying every operation)
 * and compiles one RegExp per path template on every match, and a request is matched more than
 * once (routing, and the metrics label when routing did not run). The definition never changes
 * after init(), so the list and the patterns are built once here. Matching rules are
 * the library's: the exact path with the method first, then templates, most specific (longest
 * literal part) first, then the first with the method; no path: 404, path but no method: 405.
 */
export function precompileRouter(api: OpenAPIBackend): void {
  const router = api.router;
  // Not part of the router's typed surface, but the library's own check (apiRoot boundaries).
  const underApiRoot = (path: string) => (router as unknown as { isUnderApiRoot: (path: string) => boolean }).isUnderApiRoot(path);
  const operations = router.getOperations();
  const templates = operations
    .map((operation) => ({ operation, pattern: templatePattern(operation.path), literal: operation.path.replace(/\{.*?\}/g, '').length }))
    .sort((a, b) => b.literal - a.literal); // stable, like lodash's orderBy
  const byOperationId = new Map(operations.map((operation) => [operation.operationId, operation]));
  router.getOperations = () => operations;
  router.getOperation = (operationId: string) => byOperationId.get(operationId);
  function matchOperation(req: Request): Operation | undefined;
  function matchOperation(req: Request, strict: true): Operation;
  function matchOperation(req: Request, strict?: boolean): Operation | undefined {
    const normalized = router.normalizeRequest(req);
    const fail = (message: string) => {
      if (strict) throw new Error(message);
      return undefined;
    };
    if (!underApiRoot(normalized.path)) return fail('404-notFound: no route matches request');
    const path = router.normalizePath(normalized.path);
    const exact = operations.find((operation) => operation.path === path && operation.method === normalized.method);
    if (exact) return exact;
    const matches = templates.filter((template) => template.pattern.test(path));
    if (matches.length === 0) return fail('404-notFound: no route matches request');
    const match = matches.find((template) => template.operation.method === normalized.method);
    return match ? match.operation : fail('405-methodNotAllowed: this method is not registered for the route');
  }
  router.matchOperation = matchOperation;
}

/**
 * Loads, checks (strict) and dereferences the document, then compiles every request validator
 * now, not on the first request. openapi-backend's own init() would also compile a response and a
 * response-header validator for every operation, which the service never uses (the tests validate
 * responses): that doubled start-up compilation and held tens of MB of heap for nothing.
 */
export async function initOpenApi(api: OpenAPIBackend): Promise<void> {
  await api.init();
  precompileRouter(api);
  api.validator = new OpenAPIValidator({
    definition: api.definition,
    ajvOpts: api.ajvOpts,
    customizeAjv: api.customizeAjv,
    router: api.router,
    lazyCompileValidators: true,
    coerceTypes: true,
  });
  api.validator.preCompileRequestValidators();
  api.validate = true;
}

/** Koa middleware: every request goes through the contract, matched to its operation. */
export function dispatch(api: OpenAPIBackend) {
  return async (ctx: Context): Promise<void> => {
    await api.handleRequest(
      {
        method: ctx.method,
        path: ctx.path,
        query: ctx.querystring,
        headers: ctx.headers as Record<string, string | string[]>,
        body: ctx.request.body,
      },
      ctx,
    );
  };
}
