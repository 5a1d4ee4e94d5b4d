/**
 * A typed client for partners, built on openapi-fetch and the types generated from openapi.yaml.
 *
 *   const coach = createCallCoachClient({ baseUrl: 'https://call-coach.example', token });
 *   const { data, error, response } = await coach.GET('/calls/{call_id}', { params: { path: { call_id } } });
 *
 * Every path, parameter, body and answer is typed from the contract: `data` is the 2xx body,
 * `error` the problem+json body of anything else.
 */
import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { components, paths } from '../server/generated/api.js';

export type { components, paths };
export type Call = components['schemas']['Call'];
export type CallCreate = components['schemas']['CallCreate'];
export type Speaker = components['schemas']['Speaker'];
export type Problem = components['schemas']['Problem'];
export type CallCoachClient = Client<paths>;

export type CallCoachClientOptions = {
  /** Where the API lives, e.g. `http://127.0.0.1:3000`. */
  baseUrl: string;
  /** A bearer JWT, or a function returning the current one (for tokens that rotate). */
  token?: string | (() => string | Promise<string>);
  /** Another fetch implementation (tests, proxies); defaults to the global fetch. */
  fetch?: typeof globalThis.fetch;
  /** Headers sent with every request, e.g. an `X-Request-Id` of your own. */
  headers?: Record<string, string>;
};

export function createCallCoachClient(options: CallCoachClientOptions): CallCoachClient {
  const client = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    headers: options.headers,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const { token } = options;
  if (token) {
    const auth: Middleware = {
      async onRequest({ request }) {
        request.headers.set('Authorization', `Bearer ${typeof token === 'function' ? await token() : token}`);
        return request;
      },
    };
    client.use(auth);
  }
  return client;
}
