/**
 * The contract's own quality, read from openapi.yaml (no server, no database): every operation
 * is named, summarised, tagged, has examples that validate against their own schemas, and
 * declares the errors it can answer with. Redocly's lint (`npm run lint:spec`) covers the rest.
 */
import { expect, test } from '@playwright/test';
import type { OpenAPIV3 } from 'openapi-types';
import { loadSpec } from '../server/spec.js';
import { contract, schemaErrors, specOperations, type SpecOperation } from './support/contract.js';

async function document(): Promise<OpenAPIV3.Document> {
  return (await contract()).definition as OpenAPIV3.Document; // dereferenced
}

async function operations(): Promise<SpecOperation[]> {
  return specOperations(await document());
}

/** Each named example of a media type (or its single `example`), as [name, value]. */
function examplesOf(media: OpenAPIV3.MediaTypeObject | OpenAPIV3.ParameterObject): [string, unknown][] {
  const named = Object.entries((media.examples ?? {}) as Record<string, OpenAPIV3.ExampleObject>).map(
    ([name, example]) => [name, example.value] as [string, unknown],
  );
  return media.example !== undefined ? [['example', media.example], ...named] : named;
}

/** `value` as a client sees it on the wire for a non-JSON media type (YAML, HTML): text. */
function checkExample(where: string, schema: object | undefined, value: unknown): string[] {
  if (!schema) return [`${where}: no schema to check the example against`];
  return schemaErrors(schema, value).map((error) => `${where}: ${error}`);
}

/**
 * Where a request schema leaves a size open, as a security review of an OpenAPI document reads it:
 * a string without maxLength (an enum bounds itself), an array without maxItems, an integer without
 * minimum, maximum and format, a number without minimum and maximum, and an object that admits
 * members the spec does not name (free-form JSON, a map) without maxProperties or without
 * x-max-key-length (its keys' bound; OpenAPI 3.0 has no propertyNames). What free-form JSON holds
 * inside is bounded by the body limit and the nesting depth, not by a schema.
 */
function unboundedRequestSchemas(schema: unknown, where: string, seen = new Set<unknown>()): string[] {
  if (!schema || typeof schema !== 'object' || seen.has(schema)) return [];
  seen.add(schema);
  const s = schema as Record<string, unknown> & { type?: string };
  const found: string[] = [];
  const missing = (...keys: string[]) => keys.filter((key) => s[key] === undefined);
  const type = s.type ?? (s.properties ? 'object' : s.items ? 'array' : undefined);
  if (type === 'string' && !s.enum && s.maxLength === undefined) found.push(`${where}: string without maxLength`);
  if (type === 'array' && s.maxItems === undefined) found.push(`${where}: array without maxItems`);
  if (type === 'integer' && missing('minimum', 'maximum', 'format').length) {
    found.push(`${where}: integer without ${missing('minimum', 'maximum', 'format').join(', ')}`);
  }
  if (type === 'number' && missing('minimum', 'maximum').length) found.push(`${where}: number without ${missing('minimum', 'maximum').join(', ')}`);
  if (type === 'object' && s.additionalProperties !== false && s.maxProperties === undefined) {
    found.push(`${where}: object admitting unnamed members without maxProperties`);
  }
  if (type === 'object' && s.additionalProperties !== false && s['x-max-key-length'] === undefined) {
    found.push(`${where}: object admitting unnamed members without x-max-key-length`);
  }
  if (type === undefined && !s.enum && !s.allOf && !s.oneOf && !s.anyOf) found.push(`${where}: no type, so no bound`);
  for (const [name, property] of Object.entries((s.properties ?? {}) as Record<string, unknown>)) {
    found.push(...unboundedRequestSchemas(property, `${where}/${name}`, seen));
  }
  if (s.items) found.push(...unboundedRequestSchemas(s.items, `${where}[]`, seen));
  if (s.additionalProperties && typeof s.additionalProperties === 'object') {
    found.push(...unboundedRequestSchemas(s.additionalProperties, `${where}/*`, seen));
  }
  for (const key of ['allOf', 'oneOf', 'anyOf'] as const) {
    for (const [index, part] of ((s[key] ?? []) as unknown[]).entries()) found.push(...unboundedRequestSchemas(part, `${where}/${key}/${index}`, seen));
  }
  return found;
}

test.describe('openapi.yaml quality', () => {
  test('every operation has an operationId, a summary and a declared tag', async () => {
    const doc = await document();
    const tags = new Set((doc.tags ?? []).map((tag) => tag.name));
    const ops = await operations();
    expect(ops.length).toBeGreaterThan(0);
    const problems = ops.flatMap(({ method, path, operation }) => {
      const where = `${method} ${path}`;
      return [
        ...(operation.operationId ? [] : [`${where}: no operationId`]),
        ...(operation.summary?.trim() ? [] : [`${where}: no summary`]),
        ...(operation.tags?.length ? [] : [`${where}: no tag`]),
        ...(operation.tags ?? []).filter((tag) => !tags.has(tag)).map((tag) => `${where}: tag ${tag} is not declared`),
      ];
    });
    expect(problems).toEqual([]);
  });

  test('every operation declares the client errors it can answer with', async () => {
    const doc = await document();
    const problems = (await operations()).flatMap(({ method, path, operation, parameters }) => {
      const where = `${method} ${path} (${operation.operationId})`;
      const statuses = Object.keys(operation.responses);
      const needs = (status: string, why: string) => (statuses.includes(status) ? [] : [`${where}: ${why}, so it must declare ${status}`]);
      const isProtected = (operation.security ?? doc.security ?? []).some((requirement) => Object.keys(requirement).length > 0);
      const takesInput = parameters.length > 0 || Boolean(operation.requestBody);
      const errors = statuses.filter((status) => /^4/.test(status));
      return [
        // The only operations without a 4xx are public ones without input (see .redocly.lint-ignore.yaml).
        ...(errors.length === 0 && (isProtected || takesInput) ? [`${where}: declares no 4xx response`] : []),
        ...(takesInput ? needs('400', 'it takes input') : []),
        ...(isProtected ? needs('401', 'it needs a token') : []),
        // A PUT to a named resource may create it (an upsert), so it need not answer 404.
        ...(parameters.some((parameter) => parameter.in === 'path') && method !== 'PUT' ? needs('404', 'it names a resource') : []),
        ...(operation.requestBody ? [...needs('413', 'it takes a body'), ...needs('415', 'it takes a body')] : []),
        // 5xx may differ on purpose: getReady's 503 is the same readiness report as its 200.
        ...statuses
          .filter((status) => /^4/.test(status))
          .filter((status) => !(operation.responses[status] as OpenAPIV3.ResponseObject).content?.['application/problem+json'])
          .map((status) => `${where}: ${status} is not application/problem+json`),
        ...statuses
          .filter((status) => !(operation.responses[status] as OpenAPIV3.ResponseObject).headers?.['X-Request-Id'])
          .map((status) => `${where}: ${status} does not declare X-Request-Id`),
      ];
    });
    expect(problems).toEqual([]);
  });

  test('every response declares the headers every answer carries; each header has a description, a schema, an example and says whether it is always sent', async () => {
    const doc = await document();
    // Set before routing on every answer: middleware.ts (request id, security headers,
    // Cache-Control), compression.ts (Vary) and, for a listed origin, cors.ts.
    const everyAnswer = ['X-Request-Id', 'Vary', 'Cache-Control', 'X-Content-Type-Options', 'X-Frame-Options', 'Referrer-Policy', 'Cross-Origin-Resource-Policy'];
    const cors = ['Access-Control-Allow-Origin', 'Access-Control-Expose-Headers'];
    // rate-limit.ts counts every request but these (info.description, "Rate limits").
    const uncounted = new Set(['/health', '/ready', '/metrics']);
    const problems = (await operations()).flatMap(({ method, path, operation }) =>
      Object.entries(operation.responses).flatMap(([status, response]) => {
        const { headers = {}, content } = response as OpenAPIV3.ResponseObject;
        const where = `${method} ${path} ${status}`;
        const needs = [...everyAnswer, ...cors, ...(content ? ['Content-Encoding'] : []), ...(uncounted.has(path) ? [] : ['RateLimit-Policy', 'RateLimit'])];
        return [
          ...needs.filter((name) => !headers[name]).map((name) => `${where}: does not declare ${name}`),
          ...(uncounted.has(path) && headers.RateLimit ? [`${where}: declares RateLimit, but ${path} is never counted`] : []),
        ];
      }),
    );
    const outside = (doc as unknown as Record<string, Record<string, OpenAPIV3.ResponseObject>>)['x-answers-outside-operations'] ?? {};
    expect(Object.keys(outside).sort()).toEqual(['204', '400', '404', '405', '408', '431', '503']);
    for (const [status, response] of Object.entries(outside)) {
      problems.push(...['X-Request-Id', 'Cache-Control', 'X-Content-Type-Options'].filter((name) => !response.headers?.[name]).map((name) => `outside operations ${status}: does not declare ${name}`));
    }
    for (const [name, header] of Object.entries(doc.components?.headers ?? {}) as [string, OpenAPIV3.HeaderObject][]) {
      if (!header.description?.trim()) problems.push(`header ${name}: no description`);
      if (!header.schema) problems.push(`header ${name}: no schema`);
      if (header.example === undefined) problems.push(`header ${name}: no example`);
      if (typeof header.required !== 'boolean') problems.push(`header ${name}: does not say whether it is always sent (required)`);
    }
    expect(problems).toEqual([]);
  });

  test('every request body, response body and parameter has examples, and each matches its own schema', async () => {
    let checked = 0;
    const problems = (await operations()).flatMap(({ method, path, operation, parameters }) => {
      const where = `${method} ${path}`;
      const found: string[] = [];
      const media: [string, OpenAPIV3.MediaTypeObject][] = [];
      const body = operation.requestBody as OpenAPIV3.RequestBodyObject | undefined;
      for (const [type, content] of Object.entries(body?.content ?? {})) media.push([`${where} request ${type}`, content]);
      for (const [status, response] of Object.entries(operation.responses)) {
        for (const [type, content] of Object.entries((response as OpenAPIV3.ResponseObject).content ?? {})) {
          media.push([`${where} ${status} ${type}`, content]);
        }
      }
      for (const [label, content] of media) {
        const examples = examplesOf(content);
        if (examples.length === 0) found.push(`${label}: no example`);
        for (const [name, value] of examples) {
          checked += 1;
          found.push(...checkExample(`${label} example ${name}`, content.schema as object | undefined, value));
        }
      }
      for (const parameter of parameters) {
        const examples = examplesOf(parameter);
        // Path parameters must show an example; query and header examples are checked when given.
        if (examples.length === 0 && parameter.in === 'path') found.push(`${where} parameter ${parameter.name}: no example`);
        for (const [name, value] of examples) {
          checked += 1;
          found.push(...checkExample(`${where} parameter ${parameter.name} example ${name}`, parameter.schema as object, value));
        }
      }
      return found;
    });
    expect(problems).toEqual([]);
    expect(checked, 'examples checked').toBeGreaterThan(10);
  });

  test('conditional requests and idempotency keys are declared where they apply (ETag/If-None-Match/304, If-Match/412, Idempotency-Key/409/422)', async () => {
    const ops = await operations();
    const problems = ops.flatMap(({ method, operation, parameters }) => {
      const where = `${method} ${operation.operationId}`;
      const headerParameters = parameters.filter((parameter) => parameter.in === 'header').map((parameter) => parameter.name);
      const ok = operation.responses['200'] as OpenAPIV3.ResponseObject | undefined;
      const schema = ok?.content?.['application/json']?.schema as OpenAPIV3.SchemaObject | undefined;
      const singleResource = parameters.some((parameter) => parameter.in === 'path') && !schema?.properties?.next_cursor;
      const found: string[] = [];
      if (method === 'GET' && singleResource) {
        if (!ok?.headers?.['ETag']) found.push(`${where}: 200 does not declare ETag`);
        if (!headerParameters.includes('If-None-Match')) found.push(`${where}: no If-None-Match parameter`);
        if (!operation.responses['304']) found.push(`${where}: no 304`);
      }
      if (['PATCH', 'PUT', 'DELETE'].includes(method)) {
        if (!headerParameters.includes('If-Match')) found.push(`${where}: no If-Match parameter`);
        if (!operation.responses['412']) found.push(`${where}: no 412`);
      }
      // A POST that creates (answers 201, or 202 with the Location of what it queued) takes an Idempotency-Key.
      const creates = ['201', '202'].find((status) => (operation.responses[status] as OpenAPIV3.ResponseObject | undefined)?.headers?.['Location']);
      if (method === 'POST' && creates) {
        if (!headerParameters.includes('Idempotency-Key')) found.push(`${where}: no Idempotency-Key parameter`);
        for (const status of ['409', '422']) if (!operation.responses[status]) found.push(`${where}: no ${status}`);
        if (!(operation.responses[creates] as OpenAPIV3.ResponseObject).headers?.['Idempotent-Replayed']) {
          found.push(`${where}: ${creates} does not declare Idempotent-Replayed`);
        }
      }
      return found;
    });
    expect(problems).toEqual([]);
  });

  test('schema-level and header examples match their schemas', async () => {
    const doc = await document();
    const problems: string[] = [];
    let checked = 0;
    const visit = (node: unknown, where: string, seen: Set<unknown>): void => {
      if (!node || typeof node !== 'object' || seen.has(node)) return;
      seen.add(node);
      const record = node as Record<string, unknown>;
      if ('example' in record && 'type' in record) {
        checked += 1;
        problems.push(...checkExample(`${where} example`, record, record.example));
      }
      if ('example' in record && record.schema && typeof record.schema === 'object') {
        checked += 1;
        problems.push(...checkExample(`${where} example`, record.schema, record.example));
      }
      for (const [key, child] of Object.entries(record)) if (key !== 'example' && key !== 'examples') visit(child, `${where}/${key}`, seen);
    };
    visit(doc.components?.schemas, '#/components/schemas', new Set());
    visit(doc.components?.headers, '#/components/headers', new Set());
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(0);
  });
  test('every string, array, integer, number and open object of every request has a bound', async () => {
    let checked = 0;
    const problems = (await operations()).flatMap(({ method, path, operation, parameters }) => {
      const where = `${method} ${path}`;
      const body = operation.requestBody as OpenAPIV3.RequestBodyObject | undefined;
      const schemas: [string, unknown][] = [
        ...parameters.map((parameter) => [`${where} ${parameter.in} parameter ${parameter.name}`, parameter.schema] as [string, unknown]),
        ...Object.entries(body?.content ?? {}).map(([type, content]) => [`${where} request ${type} `, content.schema] as [string, unknown]),
      ];
      checked += schemas.length;
      return schemas.flatMap(([label, schema]) => unboundedRequestSchemas(schema, label));
    });
    expect(problems).toEqual([]);
    expect(checked, 'request schemas checked').toBeGreaterThan(20);
  });

  test('every integer and every array the server sends has a bound, but the arrays whose length the stored data decides', () => {
    // Their length is what the data holds, not a limit the service enforces: Gong decides
    // trackers, stats and (through the sync) speakers and segments; insights span any window.
    const DATA_SIZED = new Set([
      'Call/speakers',
      'TranscriptIngest/unmatched_speaker_ids',
      'TranscriptIngest/speakers',
      'TranscriptSegment/topics',
      'Transcript/segments',
      'ConversationMetrics/speakers',
      'ConversationMetrics/gong/stats',
      'ConversationMetrics/gong/speakers',
      'CallTrackers/trackers',
      'CallTrackers/trackers[]/occurrences',
      'RepInsights/dimensions',
      'RepInsights/weekly',
      'RepInsights/skill_gaps',
    ]);
    const doc = loadSpec().document as Record<string, any>;
    const problems: string[] = [];
    const exempted: string[] = [];
    let integers = 0;
    const visit = (schema: any, where: string): void => {
      if (!schema || typeof schema !== 'object' || schema.$ref) return;
      if (schema.type === 'integer') {
        integers += 1;
        const missing = ['minimum', 'maximum', 'format'].filter((key) => schema[key] === undefined);
        if (missing.length) problems.push(`${where}: integer without ${missing.join(', ')}`);
      }
      if (schema.type === 'array' && schema.maxItems === undefined) {
        if (DATA_SIZED.has(where)) exempted.push(where);
        else problems.push(`${where}: array without maxItems`);
      }
      for (const [name, property] of Object.entries(schema.properties ?? {})) visit(property, `${where}/${name}`);
      if (schema.items) visit(schema.items, `${where}[]`);
      if (typeof schema.additionalProperties === 'object') visit(schema.additionalProperties, `${where}/*`);
      for (const key of ['allOf', 'oneOf', 'anyOf']) for (const [i, part] of (schema[key] ?? []).entries()) visit(part, `${where}/${key}/${i}`);
    };
    const visitResponse = (response: any, where: string): void => {
      for (const [type, media] of Object.entries<any>(response?.content ?? {})) visit(media.schema, `${where} ${type}`);
      for (const [name, header] of Object.entries<any>(response?.headers ?? {})) visit(header.schema, `${where} header ${name}`);
    };
    for (const [name, schema] of Object.entries(doc.components.schemas)) visit(schema, name);
    for (const [name, header] of Object.entries<any>(doc.components.headers)) visit(header.schema, `header ${name}`);
    for (const [name, response] of Object.entries(doc.components.responses)) visitResponse(response, `response ${name}`);
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const [method, operation] of Object.entries<any>(item)) {
        for (const [status, response] of Object.entries(operation?.responses ?? {})) visitResponse(response, `${method.toUpperCase()} ${path} ${status}`);
      }
    }
    expect(problems).toEqual([]);
    expect(exempted.sort(), 'every exemption still names an unbounded array').toEqual([...DATA_SIZED].sort());
    expect(integers).toBeGreaterThan(30);
  });

  test('403 is declared exactly where it can happen: on the operations that state x-roles (the only stage that answers 403), each behind a bearer token', async () => {
    const doc = loadSpec().document as { paths: Record<string, Record<string, { 'x-roles'?: string[]; responses?: object; security?: object[] }>> };
    const problems: string[] = [];
    let restricted = 0;
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        if (!operation?.responses) continue;
        const where = `${method.toUpperCase()} ${path}`;
        const roles = operation['x-roles'];
        if (roles) restricted += 1;
        if (roles && !('403' in operation.responses)) problems.push(`${where}: states x-roles but does not declare 403`);
        if (!roles && '403' in operation.responses) problems.push(`${where}: declares 403, but no x-roles, so nothing answers it`);
        if (roles && !(operation.security ?? [{ bearerAuth: [] }]).every((requirement) => 'bearerAuth' in requirement)) {
          problems.push(`${where}: x-roles without a bearer token, which is where a role comes from`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(restricted).toBeGreaterThan(5);
  });

  test('every bearer-protected write declares 403 (rep and manager only read); no operation without a bearer token does', async () => {
    const problems = (await operations()).flatMap(({ method, path, operation }) => {
      const where = `${method} ${path} (${operation.operationId})`;
      const bearer = (operation.security ?? [{ bearerAuth: [] }]).some((requirement) => 'bearerAuth' in requirement);
      const declares = '403' in operation.responses;
      if (!bearer) return declares ? [`${where}: declares 403 but takes no bearer token, so no role is checked`] : [];
      const writes = !['GET', 'HEAD'].includes(method);
      return writes && !declares ? [`${where}: a write, so a rep or manager token gets 403; declare it`] : [];
    });
    expect(problems).toEqual([]);
  });
});
