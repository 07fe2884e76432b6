// TCP client helpers for the ports tests: connect with half-close allowed,
// and read a connection to its end or to the error that ended it.
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export function dial(port: number, host = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host, allowHalfOpen: true });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** What a socket reads until its end, or the error code that ended it. */
export function readAll(s: Socket): Promise<{ data: Buffer; error: string | null }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.once('end', () => resolve({ data: Buffer.concat(chunks), error: null }));
    s.once('error', (e: NodeJS.ErrnoException) => resolve({ data: Buffer.concat(chunks), error: e.code ?? e.message }));
    s.once('close', () => resolve({ data: Buffer.concat(chunks), error: null }));
  });
}

/** A port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}
