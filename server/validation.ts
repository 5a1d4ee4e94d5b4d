import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { Middleware } from 'koa';
import type { OpenAPIV3 } from 'openapi-types';
import type { SpecOperation } from './openapi.js';
import { HttpProblem, type FieldError } from './problem.js';
import { DATE_TIME_MESSAGE, inStorableRange } from './date-time.js';
import { routeOf } from './routes.js';
import { sizeErrors } from './size-bounds.js';

/** The request as it arrived: parameters as text (a repeated query parameter is an array), the parsed body. */
export type RawRequest = {
  params: Record<string, string>;
  query: Record<string, string | string[] | undefined>;
  headers: Record<string, string | string[] | undefined>;
  /** undefined: no body was sent. */
  body: unknown;
};
export type ValidRequest = {
  params: Record<string, unknown>;
  query: Record<string, unknown>;
  headers: Record<string, unknown>;
  requestBody: unknown;
};
/** One operation's compiled check: the request coerced to the parameter types, or a 400. */
export type RequestValidator = (request: RawRequest) => ValidRequest;

const LOCATIONS: Record<string, FieldError['location']> = { requestBody: 'body', path: 'path', query: 'query', header: 'header' };

/** Turns Ajv's findings into the problem's `errors`, each naming where and what. */
function fieldErrors(errors: ErrorObject[]): FieldError[] {
  return errors.map((error) => {
    const [, first = '', ...rest] = error.instancePath.split('/');
    let path = rest.length ? `/${rest.join('/')}` : '';
    let message = error.message ?? 'is invalid';
    const params = error.params as Record<string, unknown>;
    let location = LOCATIONS[first];
    if (error.keyword === 'additionalProperties') {
      path += `/${String(params.additionalProperty)}`;
      message = 'is not a known property';
    } else if (error.keyword === 'required') {
      // A missing location object (no body at all) is reported as that location, at its root.
      if (!location && LOCATIONS[String(params.missingProperty)]) location = LOCATIONS[String(params.missingProperty)];
      else path += `/${String(params.missingProperty)}`;
      message = 'is required';
    } else if (error.keyword === 'enum') {
      message = `must be one of: ${(params.allowedValues as unknown[]).join(', ')}`;
    } else if (error.keyword === 'format' && params.format === 'date-time') {
      message = DATE_TIME_MESSAGE;
    }
    return { location: location ?? 'body', path: path || '/', message };
  });
}

/** The 400 for `errors` (all of them; the answer lists the first few and counts the rest). */
export function invalidRequest(errors: FieldError[], count = errors.length): HttpProblem {
  const [first] = errors;
  const detail = first
    ? `${first.location}${first.path === '/' ? '' : first.path}: ${first.message}${count > 1 ? ` (and ${count - 1} more; see errors)` : ''}`
    : 'The request does not match the contract.';
  return new HttpProblem(400, detail, { errors, errorCount: count });
}

/**
 * Ajv instances shared by every operation (one per kind, not one per operation): parameters
 * arrive as text and are coerced to their declared types; bodies are JSON and never coerced.
 * OpenAPI 3.0 schemas carry `example`, `nullable` and `x-` keys, hence strict: false.
 */
function ajvs(): { params: Ajv; body: Ajv } {
  const make = (coerceTypes: boolean) => {
    const ajv = new Ajv({ strict: false, allErrors: true, coerceTypes });
    addFormats.default(ajv);
    // RFC 3339 as ajv-formats reads it, and within the years an answer can state (date-time.ts).
    const rfc3339 = ajv.formats['date-time'] as { validate: (text: string) => boolean; compare?: (a: string, b: string) => number | undefined };
    ajv.addFormat('date-time', { type: 'string', validate: (text) => rfc3339.validate(text) && inStorableRange(text), compare: rfc3339.compare });
    return ajv;
  };
  return { params: make(true), body: make(false) };
}

/** Builds the validator of every operation, compiled now rather than on its first request. */
export function createValidators(): (operation: SpecOperation) => RequestValidator {
  const ajv = ajvs();
  return (operation) => compile(operation, ajv);
}

function compile(operation: SpecOperation, ajv: { params: Ajv; body: Ajv }): RequestValidator {
  const parameters = (operation.parameters ?? []) as OpenAPIV3.ParameterObject[];
  const group = (where: 'path' | 'query' | 'header') => {
    const own = parameters.filter((p) => p.in === where);
    const name = (p: OpenAPIV3.ParameterObject) => (where === 'header' ? p.name.toLowerCase() : p.name);
    return {
      names: own.map(name),
      arrays: new Set(own.filter((p) => (p.schema as OpenAPIV3.SchemaObject | undefined)?.type === 'array').map(name)),
      schema: {
        type: 'object',
        // Headers are open: every request carries many the contract does not list. So is the query
        // of an operation without parameters (probes, the contract, /docs): it takes no input, so
        // it has no 400 to answer (see .redocly.lint-ignore.yaml).
        additionalProperties: where === 'header' || (where === 'query' && parameters.length === 0),
        properties: Object.fromEntries(own.map((p) => [name(p), p.schema ?? {}])),
        required: own.filter((p) => p.required).map(name),
      },
    };
  };
  const path = group('path');
  const query = group('query');
  const header = group('header');
  const validateParams: ValidateFunction = ajv.params.compile({
    type: 'object',
    properties: { path: path.schema, query: query.schema, header: header.schema },
  });

  const body = operation.requestBody as OpenAPIV3.RequestBodyObject | undefined;
  const bodySchema = body?.content?.['application/json']?.schema;
  const validateBody: ValidateFunction | undefined = bodySchema
    ? ajv.body.compile({
        type: 'object',
        properties: { requestBody: bodySchema },
        required: body?.required ? ['requestBody'] : [],
      })
    : undefined;

  return (request) => {
    const query_: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(request.query)) {
      // A single value of an array parameter is that array's one item.
      query_[key] = typeof value === 'string' && query.arrays.has(key) ? [value] : value;
    }
    const headers: Record<string, unknown> = {};
    for (const name of header.names) if (request.headers[name] !== undefined) headers[name] = request.headers[name];
    const candidate = { path: { ...request.params }, query: query_, header: headers };
    const errors: ErrorObject[] = [];
    if (!validateParams(candidate)) errors.push(...validateParams.errors!);
    // Arrays and objects past their bounds first, alone: their items are not worth checking yet.
    const oversized = bodySchema && request.body !== undefined ? sizeErrors(bodySchema as never, request.body) : undefined;
    if (oversized?.count) {
      const params = fieldErrors(errors);
      throw invalidRequest([...params, ...oversized.errors], params.length + oversized.count);
    }
    const wrapped = request.body === undefined ? {} : { requestBody: request.body };
    if (validateBody && !validateBody(wrapped)) errors.push(...validateBody.errors!);
    if (errors.length) throw invalidRequest(fieldErrors(errors));
    return { params: candidate.path, query: candidate.query, headers: candidate.header, requestBody: request.body };
  };
}

/** 6. validate: parameters and body against the operation's compiled validator (400 with `errors`). */
export const validate: Middleware = (ctx, next) => {
  const route = routeOf(ctx);
  ctx.state.request = route.validate({
    params: (ctx as { params?: Record<string, string> }).params ?? {},
    query: ctx.query,
    headers: ctx.headers,
    body: ctx.state.body,
  });
  return next();
};
