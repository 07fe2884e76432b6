// A VM's networking, as its keeper runs it: the published ports (host TCP
// listeners whose connections are carried to guest ports) and the links
// (names inside the VM whose connections come out on the link port and are
// carried to a port of another VM). The guest has no network device: these
// are the only paths in or out, and each goes only where the VM was told.
import { createServer, type Server, type Socket } from 'node:net';
import { VmstepError } from '../engine/errors.js';
import type { ExecEndpoint } from '../session/connect.js';
import { answerDial, CarrierRefused, openForward, openLink, readDial } from './carrier.js';
import { relay, splice } from './relay.js';
import type { LinkSpec, PortMapping } from './spec.js';

/** Connections one VM carries at once, published and linked together; more are reset. */
export const MAX_CONNECTIONS = 1024;

export interface NetworkOptions {
  ports: PortMapping[];
  links: LinkSpec[];
  /** Where the guest's link dials arrive (the VMM's `<vsockUdsPath>_1026`; a Unix socket in tests). */
  linkSocketPath: string;
  /** The session endpoint of a linked VM, by its reference; throws a VmstepError when it is not running. */
  linkTarget(vm: string): ExecEndpoint;
  maxConnections?: number;
  /** One line per carried connection that failed, for the keeper's log. */
  log?(line: string): void;
}

export interface Network {
  /** The published ports as bound (a host port of 0 became a free one). */
  published: PortMapping[];
  /** Once the guest serves sessions: sets up the links inside it, then carries connections. */
  serve(ep: ExecEndpoint): Promise<void>;
  close(): Promise<void>;
}

/** A TCP connection is reset; a Unix one (a carrier) can only be closed. */
function hardClose(s: Socket): void {
  try {
    s.resetAndDestroy();
  } catch {
    s.destroy();
  }
}

function listen(server: Server, args: { host?: string; port?: number; path?: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ ...args, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Binds the published ports and the link socket (so a port in use fails the
 * start before the VM boots) and checks the linked VMs; connections wait
 * until serve() is called.
 */
export async function openNetwork(opts: NetworkOptions): Promise<Network> {
  const max = opts.maxConnections ?? MAX_CONNECTIONS;
  const log = opts.log ?? (() => {});
  let active = 0;
  let endpoint: ExecEndpoint | null = null;
  let setReady!: () => void;
  const ready = new Promise<void>((r) => (setReady = r));
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };
  for (const l of opts.links) opts.linkTarget(l.vm); // a linked VM that is not running fails the start now

  /** Takes a connection slot, or resets the connection when they are all in use. */
  const admit = (s: Socket, what: string): boolean => {
    if (active >= max) {
      log(`${what}: ${max} connections are carried already; reset this one`);
      hardClose(s);
      return false;
    }
    active++;
    track(s);
    s.once('close', () => active--);
    return true;
  };

  const published: PortMapping[] = [];
  try {
    for (const p of opts.ports) {
      const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (tcp) => {
        tcp.on('error', () => {});
        if (!admit(tcp, `port ${p.hostPort}`)) return;
        void (async () => {
          await ready;
          let carrier: Socket;
          try {
            carrier = await openForward(endpoint!, p.guestPort);
          } catch (err) {
            log(`port ${p.hostIp}:${p.hostPort} -> ${p.guestPort}: ${(err as Error).message}`);
            tcp.resetAndDestroy();
            return;
          }
          track(carrier);
          tcp.resume();
          await relay(tcp, carrier);
        })();
      });
      servers.push(server);
      try {
        await listen(server, { host: p.hostIp, port: p.hostPort });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        const where = `${p.hostIp}:${p.hostPort}`;
        if (e.code === 'EADDRINUSE') throw new VmstepError(`-p: the host port ${where} is already in use`, 'choose another host port, or stop what listens there');
        if (e.code === 'EACCES') throw new VmstepError(`-p: binding the host port ${where} needs privileges you do not have`, 'choose a host port above 1023');
        if (e.code === 'EADDRNOTAVAIL') throw new VmstepError(`-p: the host address ${p.hostIp} is not an address of this host`, 'give one of its addresses, or leave it out for 127.0.0.1');
        throw new VmstepError(`-p: cannot listen on ${where}: ${e.message}`, 'choose another host port');
      }
      const address = server.address();
      published.push({ ...p, hostPort: typeof address === 'object' && address ? address.port : p.hostPort });
    }

    if (opts.links.length > 0) {
      const server = createServer({ allowHalfOpen: true }, (dial) => {
        dial.on('error', () => {});
        if (!admit(dial, 'a linked connection')) return;
        void (async () => {
          let want;
          try {
            want = await readDial(dial);
          } catch (err) {
            log((err as Error).message);
            dial.destroy();
            return;
          }
          const link = opts.links.find((l) => l.name === want.name && l.ports.includes(want.port));
          if (!link) {
            log(`refused a linked connection to ${want.name}:${want.port}: this VM was given no such link`);
            return answerDial(dial, `${want.name}:${want.port} is not a link of this VM`);
          }
          let carrier: Socket;
          try {
            carrier = await openForward(opts.linkTarget(link.vm), want.port);
          } catch (err) {
            const why = err instanceof CarrierRefused || err instanceof VmstepError ? err.message : String(err);
            log(`link ${want.name}:${want.port}: ${why}`);
            return answerDial(dial, why);
          }
          track(carrier);
          answerDial(dial, null);
          await splice(dial, carrier);
        })();
      });
      servers.push(server);
      await listen(server, { path: opts.linkSocketPath });
    }
  } catch (err) {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    throw err;
  }

  const linkSessions: Socket[] = [];
  return {
    published,
    async serve(ep) {
      for (const l of opts.links) {
        try {
          const s = await openLink(ep, l);
          s.on('error', () => {});
          linkSessions.push(s);
        } catch (err) {
          throw new VmstepError(`--link ${l.name}: the guest could not set it up: ${(err as Error).message}`, 'check that the image has a writable /etc/hosts and the name is not in use');
        }
      }
      endpoint = ep;
      setReady();
    },
    async close() {
      for (const s of linkSessions) s.destroy();
      const closing = Promise.all(
        servers.map(
          (s) =>
            new Promise((r) => {
              s.close(r);
            }),
        ),
      );
      // The VM is going: what it carried ends with an error (a reset), never a hang.
      for (const s of sockets) hardClose(s);
      await closing;
    },
  };
}
