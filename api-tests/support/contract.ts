/**
 * Checks every response against openapi.yaml: the status must be declared for the operation,
 * the content type declared for that status, every header sent declared for that status (but for
 * HTTP's own, HTTP_OWNED_HEADERS), every declared `required: true` header present, every header
 * sent valid against its schema, and the body valid against the declared schema. Errors must be problem+json whose
 * `status` equals the HTTP status and which leak no stack trace or SQL. Answers that belong to no
 * operation (a path no operation has, a method a path lacks, a CORS preflight, bytes that are not
 * HTTP) are held to the responses openapi.yaml maps in `x-answers-outside-operations`. Anything
 * undeclared fails the test that received it.
 *
 * Both the `api` client and Playwright's own `request` fixture (see fixtures.ts) run every
 * answer through `expectMatchesContract`, so no suite can bypass it.
 */
import { expect, type APIResponse } from '@playwright/test';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { OpenAPIBackend, type Operation } from 'openapi-backend';
import type { OpenAPIV3 } from 'openapi-types';
import { operationsOf } from '../../server/openapi.js';
import { loadSpec } from '../../server/spec.js';

type Schema = { type?: string } & Record<string, unknown>;
type HeaderObject = { schema?: Schema; required?: boolean };
type ResponseObject = {
  headers?: Record<string, HeaderObject>;
  content?: Record<string, { schema?: unknown }>;
};

/** The part of an APIResponse the validator reads (a real APIResponse fits). */
export type ResponseLike = Pick<APIResponse, 'url' | 'status' | 'headers' | 'body' | 'json'>;

let backend: Promise<OpenAPIBackend> | undefined;

/** The contract, dereferenced and compiled once per worker. */
export function contract(): Promise<OpenAPIBackend> {
  backend ??= (async () => {
    const api = new OpenAPIBackend({
      definition: structuredClone(loadSpec().document) as never,
      strict: true,
      ajvOpts: { allErrors: true },
      customizeAjv: (ajv) => {
        addFormats.default(ajv);
        return ajv;
      },
    });
    await api.init();
    return api;
  })();
  return backend;
}

// One Ajv for every response schema (OpenAPI 3.0 style: `nullable`, `example` allowed). Not
// openapi-backend's validateResponse: it only looks at `application/json` content and silently
// passes anything else, such as every application/problem+json error.
const ajv = new Ajv({ allErrors: true, strict: false });
addFormats.default(ajv);
const validators = new WeakMap<object, ValidateFunction>();

/** Ajv's findings for `value` against `schema` (compiled once per schema object). */
export function schemaErrors(schema: object, value: unknown): string[] {
  let validate = validators.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    validators.set(schema, validate);
  }
  return validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`.trim());
}

export type SpecOperation = {
  method: string;
  path: string;
  item: OpenAPIV3.PathItemObject;
  operation: OpenAPIV3.OperationObject;
  /** The path's parameters (unless the operation redefines them), then the operation's own. */
  parameters: OpenAPIV3.ParameterObject[];
};

/** Every operation of the dereferenced contract (`(await contract()).definition`), as the server walks it. */
export function specOperations(doc: OpenAPIV3.Document): SpecOperation[] {
  return operationsOf(doc).map((operation) => ({
    method: operation.method,
    path: operation.path,
    item: doc.paths[operation.path]!,
    operation,
    parameters: operation.parameters as OpenAPIV3.ParameterObject[],
  }));
}

// Header values arrive as text; their schemas are checked after reading numbers and booleans the
// way a client would.

function headerValue(raw: string, schema: Schema): unknown {
  if ((schema.type === 'integer' || schema.type === 'number') && raw.trim() !== '' && !Number.isNaN(Number(raw))) {
    return Number(raw);
  }
  if (schema.type === 'boolean' && (raw === 'true' || raw === 'false')) return raw === 'true';
  return raw;
}

function validateHeader(schema: Schema, raw: string): string[] {
  return schemaErrors(schema, headerValue(raw, schema));
}

/**
 * Fields HTTP itself owns on every message (RFC 9110/9112: the date, framing and connection
 * management), plus Content-Type, which the contract states as each response's media type (its
 * `content`, checked below). openapi.yaml does not declare them as response headers (see
 * components/headers); every other header a response carries must be declared on its status.
 */
export const HTTP_OWNED_HEADERS = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding', 'content-type']);

/**
 * The headers of an answer against the response `declared` (named `declaredAs` in messages): each
 * header sent is declared there (or owned by HTTP) and valid against its schema, and each declared
 * `required: true` is sent. (OpenAPI's default is `required: false`: sent on some answers only.)
 */
export function expectDeclaredHeaders(where: string, declaredAs: string, declared: ResponseObject, headers: Record<string, string>): void {
  const byName = new Map(Object.entries(declared.headers ?? {}).map(([name, header]) => [name.toLowerCase(), { name, header }]));
  const undeclared = Object.keys(headers).filter((name) => !HTTP_OWNED_HEADERS.has(name.toLowerCase()) && !byName.has(name.toLowerCase()));
  expect(undeclared, `${where}: headers sent that ${declaredAs} does not declare`).toEqual([]);
  for (const [lower, { name, header }] of byName) {
    const value = headers[lower];
    if (value === undefined) {
      if (header.required === true) expect(value, `${where}: declared header ${name} is missing`).toBeDefined();
      continue;
    }
    if (header.schema) {
      expect(validateHeader(header.schema, value), `${where}: header ${name}: ${value} does not match its schema`).toEqual([]);
    }
  }
}

/** The response openapi.yaml declares for an answer that belongs to no operation, by status. */
function outsideOperations(document: object, status: number): ResponseObject | undefined {
  const answers = (document as unknown as Record<string, Record<string, ResponseObject | { $ref: string }> | undefined>)['x-answers-outside-operations'];
  const answer = answers?.[String(status)];
  if (answer && '$ref' in answer) {
    // Dereferenced by openapi-backend like the rest; resolved here should it ever be left as a $ref.
    return answer.$ref
      .slice(2)
      .split('/')
      .reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], document) as ResponseObject;
  }
  return answer;
}

/** Served by the service outside the contract: Swagger UI's static files (server/docs.ts). */
const OUTSIDE_CONTRACT = [/^\/docs\/assets\/[\w.-]+$/];
/** What a route outside the contract may answer with. */
const PROBLEM_FOR_UNKNOWN_ROUTE = new Set([404, 405]);

/** Signs of internals in an error body: stack frames, source paths, SQL, PostgreSQL's own words. */
export const LEAK_PATTERNS: RegExp[] = [
  /\n\s*at\s/,
  /\bat [\w.<>]+ \(.*:\d+:\d+\)/,
  /(?:^|[\s(/])[\w./-]+\.(?:ts|js|mjs|cjs):\d+/,
  /node_modules/,
  /\b(?:SELECT\s[\s\S]*\sFROM|INSERT INTO|UPDATE\s+\w+\s+SET|DELETE FROM)\b/,
  /\bSQLSTATE\b|\bsyntax error at\b|invalid input syntax|unsupported Unicode escape|violates (?:check|foreign key|not-null|unique) constraint/i,
  /\b(?:TypeError|ReferenceError|RangeError|SyntaxError|DatabaseError|SlonikError)\b/,
];

export async function expectMatchesContract(response: ResponseLike, method: string): Promise<void> {
  const api = await contract();
  const url = new URL(response.url());
  const status = response.status();
  const headers = response.headers();
  const contentType = (headers['content-type'] ?? '').split(';')[0]!.trim();
  const where = `${method} ${url.pathname} -> ${status}`;

  expect(headers['x-request-id'], `${where}: every response carries X-Request-Id`).toBeTruthy();
  if (status >= 400) {
    // Errors are problem+json; the one declared exception (getReady's 503 readiness report) is
    // allowed by the declared-content-type check below, not here.
    if (status < 500) expect(contentType, `${where}: every client error is application/problem+json`).toBe('application/problem+json');
    const text = (await response.body()).toString('utf8');
    for (const pattern of LEAK_PATTERNS) {
      expect(text, `${where}: the error body leaks internals (${pattern})`).not.toMatch(pattern);
    }
  }

  // A CORS preflight a listed origin sent is answered by the CORS layer for any path, before
  // routing: protocol-level, as info.description's "Browsers (CORS)" says.
  if (method === 'OPTIONS' && status === 204 && headers['access-control-allow-origin']) {
    expectDeclaredHeaders(where, 'x-answers-outside-operations 204 (CorsPreflight)', outsideOperations(api.definition, 204)!, headers);
    expect(await response.body(), `${where}: a preflight answer has no body`).toHaveLength(0);
    return;
  }

  const operation = api.matchOperation({ method, path: url.pathname, headers: {}, query: url.search.slice(1) }) as
    | Operation
    | undefined;
  if (!operation) {
    if (status === 200 && ['GET', 'HEAD'].includes(method) && OUTSIDE_CONTRACT.some((route) => route.test(url.pathname))) {
      return;
    }
    // Routes outside the contract answer only with a problem.
    expect(PROBLEM_FOR_UNKNOWN_ROUTE.has(status), `${where}: no operation matches, so only 404/405 are allowed`).toBe(true);
    expectDeclaredHeaders(where, `x-answers-outside-operations ${status}`, outsideOperations(api.definition, status)!, headers);
    expect(contentType, `${where}: content type`).toBe('application/problem+json');
    const problem = (await response.json()) as { status?: unknown };
    expect(problem.status, `${where}: problem status equals HTTP status`).toBe(status);
    return;
  }

  const declared = operation.responses?.[String(status)] as ResponseObject | undefined;
  expect(declared, `${where}: status ${status} is not declared for ${operation.operationId}`).toBeTruthy();

  expectDeclaredHeaders(where, `${operation.operationId} ${status}`, declared!, headers);

  const content = declared!.content ?? {};
  if (Object.keys(content).length === 0) {
    expect(await response.body(), `${where}: declared without a body`).toHaveLength(0);
    return;
  }
  expect(Object.keys(content), `${where}: content type ${contentType} is not declared`).toContain(contentType);

  const schema = content[contentType]!.schema as object | undefined;
  expect(schema, `${where}: ${contentType} is declared without a schema`).toBeTruthy();
  const isJson = contentType === 'application/json' || contentType.endsWith('+json');
  // Text bodies (YAML, HTML) are declared as strings and checked as such.
  const body: unknown = isJson ? await response.json() : (await response.body()).toString('utf8');
  expect(schemaErrors(schema!, body), `${where}: body does not match the ${operation.operationId} ${status} schema`).toEqual([]);
  if (!isJson) expect((body as string).length, `${where}: declared ${contentType} body is empty`).toBeGreaterThan(0);
  if (contentType === 'application/problem+json') {
    expect((body as { status?: number }).status, `${where}: problem status equals HTTP status`).toBe(status);
  }
}

/** The statuses info.description ("Malformed HTTP", "Connections") names for answers that belong to no operation. */
export const PROTOCOL_LEVEL_STATUSES = [400, 408, 431, 503];

/**
 * An answer to bytes that never became a request of an operation (info.description, "Malformed
 * HTTP"): one of the statuses named there, application/problem+json valid against the Problem
 * schema, with X-Request-Id, leaking nothing, and the connection closed.
 */
export async function expectProtocolLevelProblem(response: Pick<ResponseLike, 'status' | 'headers' | 'body'>): Promise<Record<string, unknown>> {
  const status = response.status();
  const headers = response.headers();
  expect(PROTOCOL_LEVEL_STATUSES, `protocol-level answer ${status} is one info.description names`).toContain(status);
  expect((headers['content-type'] ?? '').split(';')[0]!.trim(), 'protocol-level answers are problem+json').toBe('application/problem+json');
  expect(headers['x-request-id'], 'protocol-level answers carry X-Request-Id').toBeTruthy();
  expect(headers.connection, 'the connection is closed after a protocol-level answer').toBe('close');
  const declared = outsideOperations((await contract()).definition, status);
  expect(declared, `x-answers-outside-operations declares ${status}`).toBeTruthy();
  expectDeclaredHeaders(`protocol-level ${status}`, `x-answers-outside-operations ${status}`, declared!, headers);
  const text = (await response.body()).toString('utf8');
  for (const pattern of LEAK_PATTERNS) expect(text, `the answer leaks internals (${pattern})`).not.toMatch(pattern);
  const problem = JSON.parse(text) as Record<string, unknown>;
  const schema = ((await contract()).definition as OpenAPIV3.Document).components!.schemas!.Problem as object;
  expect(schemaErrors(schema, problem), 'the body is a Problem').toEqual([]);
  expect(problem.status).toBe(status);
  expect(String(problem.detail ?? '').length, 'the detail says what to do').toBeGreaterThan(20);
  return problem;
}
