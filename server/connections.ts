/**
 * What one listener lets a client hold (HTTP_MAX_CONNECTIONS; openapi.yaml info.description,
 * "Connections"): at most `maxConnections` open connections, each cut off when slow or idle. A
 * connection past the cap is answered at once, before its request is read, with a 503
 * problem+json, `Retry-After` and `Connection: close`, then closed: never a silent reset, and
 * never a request the service works on. Past the cap plus REFUSAL_ROOM (a flood), Node itself
 * closes new connections as it accepts them (server.maxConnections), so file descriptors stay
 * bounded.
 */
import { readFileSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { rawProblem } from './client-errors.js';
import type { Logger } from './logger.js';

/** Connections being told 503 at once, beyond the cap; more than that are closed unanswered. */
export const REFUSAL_ROOM = 64;
/** How long a refused connection may take to read its answer before it is closed. */
const REFUSAL_LINGER_MS = 1_000;
const RETRY_AFTER_SECONDS = 2;
/** A keep-alive connection idle this long between requests is closed. */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;
// A slow client is cut off (408, client-errors.ts) sooner than Node's defaults of 60 s for the
// request head and 300 s for the whole request: 20 s for the head, 120 s in all (a 2 MiB
// transcript at ~20 KB/s).
export const HEADERS_TIMEOUT_MS = 20_000;
export const REQUEST_TIMEOUT_MS = 120_000;
/** How often Node looks for requests past those timeouts (its default, 30 s, made 20 s up to 50). */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;

/** The HTTP server of a listener (what Koa's app.listen makes, with timeouts checked each second). */
export function createHttpServer(handler: RequestListener): Server {
  return createServer({ connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS }, handler);
}

/**
 * The process's soft limit on open files (Linux /proc/self/limits; Node raises it to the hard
 * limit at start), or undefined where it cannot be read.
 */
function openFilesLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').match(/^Max open files\s+(\d+|unlimited)/m);
    if (!line) return undefined;
    return line[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(line[1]);
  } catch {
    return undefined;
  }
}

/**
 * HTTP_MAX_CONNECTIONS's default: half the open-files limit (the rest stays for the pool, files,
 * outbound requests and refusals), between 64 and 4096 (what one process of this service serves
 * well; behind a load balancer it needs far fewer; 4000 connections held mid-request added 23 MB
 * to the process, measured once). 512 where the limit cannot be read.
 */
export function defaultMaxConnections(limit = openFilesLimit()): number {
  return Math.max(64, Math.min(4096, Math.floor((limit ?? 1024) / 2)));
}

/** What one listener holds at most: connections in all, and from one client address (unset: no such bound). */
export type ConnectionLimits = { max: number; perClient: number | undefined };

/**
 * Applies the caps and the timeouts to `server`, before it accepts a first connection. The caps
 * wrap the HTTP server's own handling of a new socket (its 'connection' listener, the documented
 * way sockets reach it): a socket under them goes on to it, one over them never does. A counter
 * per connection (and a map entry per client address, when that is bounded), nothing per request.
 */
export function boundConnections(server: Server, limits: ConnectionLimits, logger: Logger, listener: string): void {
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;

  const serve = server.listeners('connection') as Array<(this: Server, socket: Socket) => void>;
  server.removeAllListeners('connection');
  const retry = `Retry after ${RETRY_AFTER_SECONDS} s, and reuse one connection for many requests (keep-alive) rather than opening many.`;
  const details = {
    server: `This server already holds its most connections at once (${limits.max}). ${retry}`,
    client: `Your address already holds its most connections to this server at once (${limits.perClient}). ${retry}`,
  };
  const answer = (which: keyof typeof details) =>
    rawProblem([503, 'too-many-connections', 'Service Unavailable', details[which]], { 'Retry-After': String(RETRY_AFTER_SECONDS) });
  let open = 0;
  const byClient = new Map<string, number>();
  const refusals = { server: 0, client: 0, dropped: 0, reported: false };
  // One log line a second at most under a flood, not one per connection.
  const report = () => {
    if (refusals.reported) return;
    refusals.reported = true;
    setTimeout(() => {
      logger.warn(
        { listener, ...limits, answered_503: refusals.server, answered_503_per_client: refusals.client, closed_unanswered: refusals.dropped },
        'connections refused: a connection cap is reached',
      );
      Object.assign(refusals, { server: 0, client: 0, dropped: 0, reported: false });
    }, 1_000).unref();
  };
  const refuseFor = (socket: Socket, which: keyof typeof details) => {
    refusals[which]++;
    report();
    refuse(socket, answer(which)); // each with a request id of its own
  };

  server.on('connection', (socket: Socket) => {
    if (open >= limits.max) return refuseFor(socket, 'server');
    if (limits.perClient !== undefined) {
      const client = socket.remoteAddress ?? '';
      const held = byClient.get(client) ?? 0;
      if (held >= limits.perClient) return refuseFor(socket, 'client');
      byClient.set(client, held + 1);
      socket.once('close', () => {
        const left = byClient.get(client)! - 1;
        if (left > 0) byClient.set(client, left);
        else byClient.delete(client);
      });
    }
    open++;
    socket.once('close', () => open--);
    for (const handle of serve) handle.call(server, socket);
  });
  server.maxConnections = limits.max + REFUSAL_ROOM;
  server.on('drop', () => {
    refusals.dropped++;
    report();
  });
}

/**
 * Writes the 503 and closes. What the client sends meanwhile is read and dropped: closing with
 * unread bytes would reset the connection, and the client could lose the answer.
 */
function refuse(socket: Socket, answer: string): void {
  socket.on('error', () => socket.destroy());
  const linger = setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS);
  socket.once('close', () => clearTimeout(linger));
  socket.once('end', () => socket.destroy());
  socket.end(answer);
  socket.resume();
}
