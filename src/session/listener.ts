// Where guest init's connection arrives: our VMM (like Firecracker) maps a
// guest connection to vsock port P onto the host Unix socket
// `<vsockUdsPath>_P`, so the host listens on `<vsockUdsPath>_1024` before the
// VM boots. One run has exactly one guest connection: the first is handed
// out, any later one is closed at once (the guest is untrusted and must not
// open a second session).
import { lstat, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { GUEST_VSOCK_PORT } from './protocol.js';

/** The Unix socket on which guest init's connection arrives. */
export function guestSocketPath(vsockUdsPath: string): string {
  return `${vsockUdsPath}_${GUEST_VSOCK_PORT}`;
}

export interface GuestListener {
  /** The Unix socket path listened on. */
  readonly path: string;
  /** The first connection from guest init. Rejects when the listener closes first or the signal aborts. */
  accept(signal?: AbortSignal): Promise<Socket>;
  /** Stops listening and removes the socket file. An accepted connection stays open. */
  close(): Promise<void>;
}

export async function listenForGuest(vsockUdsPath: string): Promise<GuestListener> {
  const path = guestSocketPath(vsockUdsPath);
  // A socket file left by a crashed run would make listen fail with EADDRINUSE.
  const stale = await lstat(path).catch(() => null);
  if (stale?.isSocket()) await rm(path, { force: true });

  let accepted: Socket | null = null;
  const waiters: { resolve: (s: Socket) => void; reject: (e: Error) => void }[] = [];
  let closedError: Error | null = null;
  const server: Server = createServer((socket) => {
    if (accepted) {
      socket.destroy();
      return;
    }
    accepted = socket;
    for (const w of waiters.splice(0)) w.resolve(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(`cannot listen for guest init on ${path}: ${err.message}${err.code === 'EADDRINUSE' ? ' (another run uses this vsock path)' : ''}`)),
    );
    server.listen(path, () => resolve());
  });

  return {
    path,
    accept(signal?: AbortSignal) {
      if (accepted) return Promise.resolve(accepted);
      if (closedError) return Promise.reject(closedError);
      return new Promise<Socket>((resolve, reject) => {
        const onAbort = () => reject(signal?.reason instanceof Error ? signal.reason : new Error('stopped waiting for guest init to connect'));
        if (signal?.aborted) return onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        waiters.push({
          resolve: (s) => {
            signal?.removeEventListener('abort', onAbort);
            resolve(s);
          },
          reject,
        });
      });
    },
    async close() {
      closedError ??= new Error(`guest init never connected to ${path}`);
      for (const w of waiters.splice(0)) w.reject(closedError);
      // Not waiting for 'close': it only comes once the accepted connection
      // ends too, and that connection belongs to the session now.
      server.close();
      await rm(path, { force: true });
    },
  };
}
