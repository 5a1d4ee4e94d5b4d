/**
 * Answers for what never becomes a request Koa sees, so that they too are problem+json with an
 * X-Request-Id: bytes that are not HTTP/1.1 (Node's parser refuses them and would answer a bare
 * `400` with no body), headers past Node's size limit (`431`), a request that took too long to
 * arrive (`408`), and CONNECT (no proxy here). A request with an `Expect` other than
 * `100-continue` is served as if it had none (RFC 9110 allows that; Node would answer `417`), and
 * `100 Continue` is sent only when the body is about to be read (body.ts), not before the caller
 * is authenticated.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from './logger.js';
import { PROBLEM_BASE } from './problem.js';

const BY_CODE: Record<string, [status: number, slug: string, title: string, detail: string]> = {
  HPE_HEADER_OVERFLOW: [431, 'header-fields-too-large', 'Request Header Fields Too Large', 'The request line and headers together exceed 16 KiB; send fewer or shorter headers.'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'request-timeout', 'Request Timeout', 'The request did not arrive in full in time; send it again, without pauses.'],
};
const MALFORMED: [number, string, string, string] = [
  400,
  'malformed-request',
  'Bad Request',
  'The request is not valid HTTP/1.1 (request line, header syntax, Content-Length or Transfer-Encoding); send one well-formed request.',
];

/** The raw HTTP/1.1 answer for a problem, closing the connection (its framing cannot be trusted). */
export function rawProblem([status, slug, title, detail]: [number, string, string, string], headers: Record<string, string> = {}): string {
  const requestId = randomUUID();
  const body = JSON.stringify({ type: PROBLEM_BASE + slug, title, status, detail, request_id: requestId });
  return (
    `HTTP/1.1 ${status} ${title}\r\n` +
    'Content-Type: application/problem+json\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    `X-Request-Id: ${requestId}\r\n` +
    'X-Content-Type-Options: nosniff\r\n' +
    'Cache-Control: no-store\r\n' +
    Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('') +
    'Connection: close\r\n\r\n' +
    body
  );
}

/** Wires the answers above into `server`; `handler` serves requests (app.callback()). */
export function answerClientErrors(server: Server, handler: RequestListener, logger: Logger): void {
  // The request a socket is serving, so that an error in a pipelined request after it waits for its answer.
  const current = new WeakMap<Duplex, { req: IncomingMessage; res: ServerResponse }>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => current.set(req.socket, { req, res }));

  server.on('clientError', (error: Error & { code?: string }, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const answer = BY_CODE[error.code ?? ''] ?? MALFORMED;
    logger.info({ code: error.code, status: answer[0] }, 'malformed request refused');
    const send = () => (socket.writable ? socket.end(rawProblem(answer), () => socket.destroy()) : socket.destroy());
    const serving = current.get(socket);
    // A request whose body was still arriving is the broken one (it will never end): answer now.
    // One that arrived in full is a request before the broken one: its answer goes first.
    if (serving && serving.req.complete && !serving.res.writableFinished) {
      serving.res.once('finish', send);
      serving.res.once('close', () => serving.res.writableFinished || socket.destroy());
    } else if (serving && !serving.req.complete && serving.res.headersSent) {
      // Already answering the broken one (a 401 before its body): let that answer finish, then
      // close, as its framing is lost.
      if (serving.res.writableFinished) socket.destroy();
      else serving.res.once('close', () => socket.destroy());
    } else send();
  });

  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    socket.end(rawProblem([400, 'malformed-request', 'Bad Request', 'CONNECT is not supported: this server is no proxy. Send GET, POST, PUT, PATCH or DELETE to a path of /docs.']));
  });

  server.on('checkExpectation', handler);
  // Node would send `100 Continue` at once, inviting the body of a request about to be refused;
  // readBody sends it once the caller is authenticated and authorised (body.ts).
  server.on('checkContinue', handler);
}
