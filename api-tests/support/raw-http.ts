/**
 * HTTP/1.1 on raw sockets (node:net), for bytes no HTTP client would send and for connections a
 * test holds open on purpose.
 */
import net from 'node:net';

export type RawAnswer = { status: number; headers: Record<string, string>; body: Buffer };

/** HTTP/1.1 answers with Content-Length bodies, one after another. */
export function parseAnswers(data: Buffer): RawAnswer[] {
  const answers: RawAnswer[] = [];
  let rest = data;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const [statusLine, ...lines] = rest.subarray(0, end).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    answers.push({ status: Number(statusLine!.split(' ')[1]), headers, body: rest.subarray(end + 4, end + 4 + length) });
    rest = rest.subarray(end + 4 + length);
  }
  return answers;
}

/**
 * Writes `bytes` on a fresh connection to `port` and reads every answer until the server closes
 * it (`closed`: it ended the connection cleanly; `reset`: the connection was reset; `hung`: the
 * server neither answered nor closed within `timeoutMs`, 10 s by default, and the test gave up).
 */
export function exchange(
  port: number,
  bytes: string | Buffer,
  { host = '127.0.0.1', timeoutMs = 10_000, localAddress }: { host?: string; timeoutMs?: number; localAddress?: string } = {},
): Promise<{ answers: RawAnswer[]; closed: boolean; reset: boolean; hung: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host, localAddress });
    const chunks: Buffer[] = [];
    let closed = false;
    let reset = false;
    let hung = false;
    const timer = setTimeout(() => ((hung = true), socket.destroy()), timeoutMs);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('end', () => (closed = true));
    socket.on('error', (error: Error & { code?: string }) => (reset = error.code === 'ECONNRESET' || error.code === 'EPIPE'));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ answers: parseAnswers(Buffer.concat(chunks)), closed, reset, hung });
    });
  });
}

/** A connection held open: `request` writes bytes and waits for the next whole answer. */
export type HeldConnection = { request: (bytes: string) => Promise<RawAnswer>; write: (bytes: string) => void; close: () => Promise<void> };

/** `localAddress`: the client's own address (any of 127.0.0.0/8 on Linux), to be another client. */
export function holdConnection(port: number, { host = '127.0.0.1', localAddress }: { host?: string; localAddress?: string } = {}): Promise<HeldConnection> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host, localAddress });
    let buffered = Buffer.alloc(0);
    let waiting: ((answer: RawAnswer) => void) | undefined;
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      const [answer] = parseAnswers(buffered);
      if (answer && waiting && buffered.length >= buffered.indexOf('\r\n\r\n') + 4 + Number(answer.headers['content-length'] ?? 0)) {
        buffered = Buffer.alloc(0);
        const done = waiting;
        waiting = undefined;
        done(answer);
      }
    });
    socket.once('error', reject);
    socket.once('connect', () =>
      resolve({
        request: (bytes) =>
          new Promise((answered, failed) => {
            waiting = answered;
            socket.once('close', () => failed(new Error('the server closed a held connection')));
            socket.write(bytes);
          }),
        write: (bytes) => socket.write(bytes),
        close: () => new Promise((closed) => (socket.destroyed ? closed() : (socket.once('close', () => closed()), socket.end()))),
      }),
    );
  });
}
