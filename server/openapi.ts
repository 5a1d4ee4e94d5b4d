import type { Context } from 'koa';
import { OpenAPIBackend } from 'openapi-backend';
import type { OpenAPIV3 } from 'openapi-types';
import type { operations } from './generated/api.js';

export type OperationId = keyof operations;

/** One operation of the contract, dereferenced, with what the service reads from it. */
export type SpecOperation = OpenAPIV3.OperationObject & {
  operationId: OperationId;
  method: string;
  /** The path template, e.g. `/calls/{call_id}`. */
  path: string;
  'x-body-limit'?: number;
  'x-roles'?: string[];
};

/** What a handler gets: the request as validated (parameters coerced to their types). */
export type OperationContext = {
  operation: SpecOperation;
  request: {
    params: Record<string, unknown>;
    query: Record<string, unknown>;
    headers: Record<string, unknown>;
    requestBody: unknown;
  };
  /** The verdict of every security scheme that held, by scheme name. */
  security: Record<string, unknown>;
};

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

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'] as const;

/**
 * The contract checked (strict: an invalid document stops the start) and dereferenced by
 * openapi-backend's public init(), without its validators or router at request time.
 */
export async function loadContract(document: Record<string, unknown>): Promise<OpenAPIV3.Document> {
  // openapi-backend dereferences in place; keep the served document untouched.
  const api = new OpenAPIBackend({ definition: structuredClone(document) as never, strict: true, quick: false, validate: false });
  await api.init();
  return api.definition as OpenAPIV3.Document;
}

/** Every operation of a dereferenced contract, with path-level parameters merged in. */
export function operationsOf(definition: OpenAPIV3.Document): SpecOperation[] {
  return Object.entries(definition.paths).flatMap(([path, item]) =>
    METHODS.filter((method) => item?.[method]).map((method) => {
      const operation = item![method]!;
      const own = (operation.parameters ?? []) as OpenAPIV3.ParameterObject[];
      const shared = ((item!.parameters ?? []) as OpenAPIV3.ParameterObject[]).filter(
        (p) => !own.some((o) => o.name === p.name && o.in === p.in),
      );
      return {
        ...operation,
        security: operation.security ?? definition.security ?? [],
        parameters: [...shared, ...own],
        operationId: operation.operationId as OperationId,
        method: method.toUpperCase(),
        path,
      } as SpecOperation;
    }),
  );
}
