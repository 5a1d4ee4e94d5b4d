/**
 * Checks every response against openapi.yaml: the status must be declared for the operation,
 * the content type declared for that status, declared headers present, and the body valid
 * against the declared schema. Anything undeclared fails the test that received it.
 */
import { expect, type APIResponse } from '@playwright/test';
import { OpenAPIBackend, type Operation } from 'openapi-backend';
import addFormats from 'ajv-formats';
import { loadSpec } from '../../server/spec.js';

type ResponseObject = {
  headers?: Record<string, { schema?: { type?: string } }>;
  content?: Record<string, { schema?: unknown }>;
};

let backend: Promise<OpenAPIBackend> | undefined;

function contract(): Promise<OpenAPIBackend> {
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

const PROBLEM_FOR_UNKNOWN_ROUTE = new Set([404, 405]);

export async function expectMatchesContract(response: APIResponse, method: string): Promise<void> {
  const api = await contract();
  const url = new URL(response.url());
  const status = response.status();
  const headers = response.headers();
  const contentType = (headers['content-type'] ?? '').split(';')[0]!.trim();
  const where = `${method} ${url.pathname} -> ${status}`;

  expect(headers['x-request-id'], `${where}: every response carries X-Request-Id`).toBeTruthy();

  const operation = api.matchOperation({ method, path: url.pathname, headers: {}, query: url.search.slice(1) }) as
    | Operation
    | undefined;
  if (!operation) {
    // Routes outside the contract answer only with a problem.
    expect(PROBLEM_FOR_UNKNOWN_ROUTE.has(status), `${where}: no operation matches, so only 404/405 are allowed`).toBe(true);
    expect(contentType, `${where}: content type`).toBe('application/problem+json');
    return;
  }

  const declared = operation.responses?.[String(status)] as ResponseObject | undefined;
  expect(declared, `${where}: status ${status} is not declared for ${operation.operationId}`).toBeTruthy();
  const content = declared!.content ?? {};
  if (Object.keys(content).length === 0) {
    expect(await response.body(), `${where}: declared without a body`).toHaveLength(0);
    return;
  }
  expect(Object.keys(content), `${where}: content type ${contentType} is not declared`).toContain(contentType);

  for (const [name, header] of Object.entries(declared!.headers ?? {})) {
    const value = headers[name.toLowerCase()];
    expect(value, `${where}: declared header ${name} is missing`).toBeDefined();
    if (header.schema?.type === 'integer') expect(value, `${where}: header ${name} must be an integer`).toMatch(/^\d+$/);
  }

  if (contentType.endsWith('json')) {
    const body: unknown = await response.json();
    const result = api.validateResponse(body, operation, status);
    expect(result.errors ?? [], `${where}: body does not match the ${operation.operationId} ${status} schema`).toEqual([]);
    if (contentType === 'application/problem+json') {
      expect((body as { status?: number }).status, `${where}: problem status equals HTTP status`).toBe(status);
    }
  }
}
