import type { ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import type { Context } from 'koa';
import { OpenAPIBackend, type Context as OperationContext, type Handler } from 'openapi-backend';
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
