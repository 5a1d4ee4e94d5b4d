/**
 * Free TCP ports on 127.0.0.1. As a script (`tsx scripts/free-port.ts 2`) it prints that many,
 * comma-separated, for callers that must stay synchronous (playwright.config.ts).
 */
import { createServer, type Server } from 'node:net';
import { pathToFileURL } from 'node:url';

/** `count` distinct ports nothing listens on right now (all held open together, then released). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve, reject) => {
          const server = createServer();
          server.unref();
          server.on('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log((await freePorts(Number(process.argv[2] ?? 1))).join(','));
}
