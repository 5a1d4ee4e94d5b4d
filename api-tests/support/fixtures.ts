/**
 * The fixtures every suite uses:
 *   api      - Playwright's request context against the started server, with a valid admin token,
 *              validating every response against openapi.yaml (see contract.ts)
 *   request  - Playwright's own request fixture, overridden so that its responses are validated too:
 *              no suite can reach the server without the contract check
 *   db       - a Slonik pool of the test process, straight to the test database, for verification
 *   cleanup  - registers what a test created; deletes it after the test in reverse order and
 *              logs (does not fail) when a step fails
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { expect, test as base, type APIRequestContext, type APIResponse } from '@playwright/test';
import { sql } from 'slonik';
import { createDatabase, type Database } from '../../db/pool.js';
import { expectMatchesContract } from './contract.js';
import { testEnvironment } from './test-environment.js';
import { signToken } from './tokens.js';

export { expect } from '@playwright/test';
export { sql };

type RequestOptions = { data?: unknown; headers?: Record<string, string> };

const VERBS = ['get', 'post', 'put', 'patch', 'delete', 'head'] as const;

/** Playwright's request context, with every response checked against the contract. */
export function validating(request: APIRequestContext): APIRequestContext {
  return new Proxy(request, {
    get(target, property, receiver) {
      const original = Reflect.get(target, property, receiver) as unknown;
      if (typeof original !== 'function') return original;
      if (property === 'fetch') {
        return async (urlOrRequest: string, options?: { method?: string }) => {
          const response = await target.fetch(urlOrRequest, options as never);
          await expectMatchesContract(response, (options?.method ?? 'GET').toUpperCase());
          return response;
        };
      }
      if ((VERBS as readonly (string | symbol)[]).includes(property)) {
        return async (...args: unknown[]) => {
          const response = (await (original as (...a: unknown[]) => Promise<APIResponse>).apply(target, args)) as APIResponse;
          await expectMatchesContract(response, String(property).toUpperCase());
          return response;
        };
      }
      return (original as (...a: unknown[]) => unknown).bind(target);
    },
  });
}

/** HTTP through Playwright's request context; every answer is checked against the contract. */
export class ApiClient {
  constructor(
    private readonly request: APIRequestContext,
    private readonly token: string | null,
  ) {}

  /** The same client with another token, or none (null). */
  as(token: string | null): ApiClient {
    return new ApiClient(this.request, token);
  }

  async fetch(method: string, path: string, options: RequestOptions = {}): Promise<APIResponse> {
    const headers = { ...(this.token ? { Authorization: `Bearer ${this.token}` } : {}), ...options.headers };
    const response = await this.request.fetch(path, {
      method,
      headers,
      data: options.data as never,
      failOnStatusCode: false,
      maxRedirects: 0,
    });
    await expectMatchesContract(response, method);
    return response;
  }

  get(path: string, options?: RequestOptions) {
    return this.fetch('GET', path, options);
  }

  post(path: string, data: unknown, options?: RequestOptions) {
    return this.fetch('POST', path, { ...options, data });
  }

  put(path: string, data: unknown, options?: RequestOptions) {
    return this.fetch('PUT', path, { ...options, data });
  }

  patch(path: string, data: unknown, options?: RequestOptions) {
    return this.fetch('PATCH', path, { ...options, data });
  }

  delete(path: string, options?: RequestOptions) {
    return this.fetch('DELETE', path, options);
  }
}

export class Cleanup {
  private readonly steps: { label: string; run: () => Promise<unknown> }[] = [];

  add(label: string, run: () => Promise<unknown>): void {
    this.steps.push({ label, run });
  }

  async runAll(): Promise<void> {
    for (const step of this.steps.reverse()) {
      try {
        await step.run();
      } catch (error) {
        console.warn(`cleanup: ${step.label} failed: ${(error as Error).message}`);
      }
    }
  }
}

/**
 * The JSON body of a setup step's answer, after checking its status: a setup that went wrong
 * fails here, with the request and its answer in the message, not later, far from its cause.
 */
export async function setupBody(response: Promise<APIResponse> | APIResponse, status: number) {
  const answer = await response;
  expect(answer.status(), `setup ${answer.url()} answered: ${await answer.text()}`).toBe(status);
  return answer.json();
}

/** A Gong call id (numeric, up to 20 digits) no other test uses. */
export function uniqueGongId(): string {
  return (randomBytes(8).readBigUInt64BE() % 10n ** 19n).toString();
}

export function uniqueEmail(name: string): string {
  return `${name}.${randomUUID().slice(0, 8)}@example.com`;
}

/** A valid createCall body with unique ids; `overrides` replace fields. */
export function newCall(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    gong_call_id: uniqueGongId(),
    title: `Discovery call ${randomUUID().slice(0, 8)}`,
    scheduled_at: '2026-11-02T15:00:00Z',
    duration_seconds: 1860,
    call_type: 'discovery',
    product: 'prefect',
    metadata: { direction: 'Outbound', scope: 'External' },
    speakers: [
      { name: 'Sarah Chen', email: uniqueEmail('sarah'), role: 'ae', company_side: true },
      { name: 'Dan Ortiz', email: uniqueEmail('dan'), role: 'prospect', company_side: false },
    ],
    ...overrides,
  };
}

type TestFixtures = {
  api: ApiClient;
  cleanup: Cleanup;
  /** Registers a call (by id) for deletion after the test; speakers and the rest cascade. */
  trackCall: (callId: string) => void;
};
type WorkerFixtures = { db: Database };

export const test = base.extend<TestFixtures, WorkerFixtures>({
  db: [
    async ({}, use) => {
      const url = new URL(testEnvironment().databaseUrl);
      url.searchParams.set('application_name', 'call-coach-tests');
      const db = await createDatabase({
        url: url.toString(),
        maxConnections: 4,
        acquireTimeoutMs: 10_000,
        statementTimeoutMs: 30_000,
        connectTimeoutMs: 5_000,
      });
      await use(db);
      await db.end();
    },
    { scope: 'worker' },
  ],

  request: async ({ request }, use) => {
    await use(validating(request));
  },

  api: async ({ playwright }, use, testInfo) => {
    // Its own context (ApiClient validates every answer itself), configured like `request`.
    const request = await playwright.request.newContext({
      baseURL: testInfo.project.use.baseURL,
      extraHTTPHeaders: testInfo.project.use.extraHTTPHeaders,
    });
    await use(new ApiClient(request, signToken()));
    await request.dispose();
  },

  cleanup: async ({}, use) => {
    const cleanup = new Cleanup();
    await use(cleanup);
    await cleanup.runAll();
  },

  trackCall: async ({ cleanup, db }, use) => {
    await use((callId) =>
      cleanup.add(`delete call ${callId}`, () => db.pool.query(sql.unsafe`DELETE FROM calls WHERE id = ${callId}`)),
    );
  },
});
