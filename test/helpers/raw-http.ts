import net from 'node:net';

/**
 * A client that writes HTTP by hand, byte by byte if it likes: to play the slow or silent client
 * that fetch cannot be. It records what the server answered and when the server closed.
 */
export interface RawClient {
  socket: net.Socket;
  /** Everything the server sent so far. */
  received(): string;
  /** Resolves when the server closed the connection (or after `withinMs`, with false). */
  closed(withinMs: number): Promise<boolean>;
  write(data: string | Buffer): Promise<void>;
  /** The status code of the first answer, once its status line arrived (undefined on timeout). */
  status(withinMs: number): Promise<number | undefined>;
  destroy(): void;
}

export async function rawConnect(baseUrl: string): Promise<RawClient> {
  const url = new URL(baseUrl);
  const socket = net.connect(Number(url.port), url.hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let data = '';
  let isClosed = false;
  const waiters: (() => void)[] = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  socket.on('data', (chunk: Buffer) => {
    data += chunk.toString('latin1');
    wake();
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    isClosed = true;
    wake();
  });
  const until = (done: () => boolean, withinMs: number) =>
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(done()), withinMs);
      const check = () => {
        if (done()) {
          clearTimeout(timer);
          resolve(true);
        } else waiters.push(check);
      };
      check();
    });
  return {
    socket,
    received: () => data,
    closed: (withinMs) => until(() => isClosed, withinMs),
    write: (chunk) => new Promise<void>((resolve) => (isClosed ? resolve() : socket.write(chunk, () => resolve()))),
    status: async (withinMs) => {
      await until(() => /^HTTP\/1\.1 \d{3}/.test(data), withinMs);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      return m ? Number(m[1]) : undefined;
    },
    destroy: () => socket.destroy(),
  };
}

/** The request line and headers of a request whose body follows. */
export function requestHead(method: string, path: string, headers: Record<string, string>): string {
  return `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
