// Opening a session connection to a serving guest init (docs/protocol.md,
// "Sessions"). Through our VMM, as with Firecracker: connect to the VM's
// vsock Unix socket, write `CONNECT <port>\n`, and read `OK <n>\n`; after
// that line the socket is a byte stream to the guest port. In guest init's
// test mode the host connects straight to the Unix socket named by
// VMSTEP_INIT_EXEC_SOCKET.
import { connect, type Socket } from 'node:net';
import { EXEC_VSOCK_PORT } from './protocol.js';

export type ExecEndpoint = { kind: 'vmm'; udsPath: string; port?: number } | { kind: 'unix'; path: string };

/** The longest handshake reply we wait for (`OK 4294967295\n` is 14 bytes). */
const MAX_REPLY_BYTES = 64;

function endpointName(ep: ExecEndpoint): string {
  return ep.kind === 'vmm' ? `the VM's vsock socket ${ep.udsPath}` : `guest init's session socket ${ep.path}`;
}

/** Opens a session connection; rejects with one line naming the cause when the VM is gone or refuses. */
export function connectSession(ep: ExecEndpoint, signal?: AbortSignal): Promise<Socket> {
  const path = ep.kind === 'vmm' ? ep.udsPath : ep.path;
  return new Promise<Socket>((resolve, reject) => {
    const socket = connect(path);
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(new Error(message));
    };
    const onAbort = () => fail('stopped connecting to the VM: aborted');
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      socket.removeAllListeners('error');
      socket.removeAllListeners('close');
      resolve(socket);
    };
    socket.once('error', (e: NodeJS.ErrnoException) => {
      const gone = e.code === 'ENOENT' || e.code === 'ECONNREFUSED';
      fail(gone ? `cannot reach ${endpointName(ep)}: the VM is not running (${e.code})` : `cannot connect to ${endpointName(ep)}: ${e.message}`);
    });
    socket.once('close', () => fail(`${endpointName(ep)} closed the connection before the session began: the VM is stopping or its guest init is not serving`));
    socket.once('connect', () => {
      if (ep.kind === 'unix') return done();
      socket.write(`CONNECT ${ep.port ?? EXEC_VSOCK_PORT}\n`);
      // Read in paused mode: once our listener is gone the stream's flow is
      // undecided again, so the session's own 'data' listener starts it.
      let reply = Buffer.alloc(0);
      const onReadable = () => {
        for (let chunk: Buffer | null; (chunk = socket.read() as Buffer | null) !== null; ) {
          reply = Buffer.concat([reply, chunk]);
          const nl = reply.indexOf(10);
          if (nl < 0) {
            if (reply.length > MAX_REPLY_BYTES) return fail(`${endpointName(ep)} answered CONNECT with something other than 'OK <port>': it is not a vmstep VMM`);
            continue;
          }
          socket.off('readable', onReadable);
          const line = reply.subarray(0, nl).toString('latin1');
          if (!/^OK \d+$/.test(line)) return fail(`${endpointName(ep)} refused the session (${JSON.stringify(line.slice(0, 80))}): guest init is not listening on port ${ep.port ?? EXEC_VSOCK_PORT}`);
          // Bytes after the line already belong to the guest's stream.
          const rest = reply.subarray(nl + 1);
          if (rest.length > 0) socket.unshift(rest);
          return done();
        }
      };
      socket.on('readable', onReadable);
    });
  });
}
