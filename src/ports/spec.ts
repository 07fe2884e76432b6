// `-p [HOST_IP:]HOST_PORT:GUEST_PORT` and `--link NAME=VM:PORT`, as the CLI
// and the runner plugin give them, checked into the forms the keeper uses.
import { isIPv4 } from 'node:net';
import { VmstepError } from '../engine/errors.js';

export interface PortMapping {
  /** The host address the port is bound on; 127.0.0.1 unless told. */
  hostIp: string;
  /** 0: any free port (what `vmstep port` then shows). */
  hostPort: number;
  guestPort: number;
}

/** One name in a VM, reaching ports of another VM. */
export interface LinkSpec {
  name: string;
  /** The other VM: ID, unique ID prefix or name. */
  vm: string;
  ports: number[];
  /** The loopback address the name resolves to inside this VM (127.0.0.x, one per name). */
  address: string;
}

/** How many links one VM may have (each takes a loopback address 127.0.0.2 ...). */
export const MAX_LINKS = 64;
/** Ports one link may name. */
export const MAX_LINK_PORTS = 16;

function port(text: string, what: string, option: string, allowZero = false): number {
  const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(n >= (allowZero ? 0 : 1) && n <= 65535)) throw new VmstepError(`${option} "${text}": the ${what} is not a port number from ${allowZero ? 0 : 1} to 65535`, `give it as ${option === '-p' ? '-p 8080:80 or -p 0.0.0.0:8080:80' : '--link db=postgres-vm:5432'}`);
  return n;
}

/** Parses one -p value. */
export function parsePublish(value: string): PortMapping {
  const parts = value.split(':');
  if (parts.length < 2 || parts.length > 3 || value.includes('/')) {
    throw new VmstepError(`-p "${value}" is not [HOST_IP:]HOST_PORT:GUEST_PORT${value.includes('/') ? ' (only TCP is carried: drop the /protocol)' : ''}`, 'give it as -p 8080:80 or -p 127.0.0.1:8080:80');
  }
  const hostIp = parts.length === 3 ? parts[0]! : '127.0.0.1';
  if (!isIPv4(hostIp)) throw new VmstepError(`-p "${value}": the host address "${hostIp}" is not an IPv4 address`, 'give it as -p 127.0.0.1:8080:80, or leave it out for 127.0.0.1');
  const guestPort = port(parts[parts.length - 1]!, 'guest port', '-p');
  const hostPort = port(parts[parts.length - 2]!, 'host port', '-p', true);
  return { hostIp, hostPort, guestPort };
}

/** Checks a set of -p values: no host address and port twice. */
export function checkPublished(ports: PortMapping[]): PortMapping[] {
  const seen = new Set<string>();
  for (const p of ports) {
    if (p.hostPort === 0) continue;
    const key = `${p.hostIp}:${p.hostPort}`;
    if (seen.has(key)) throw new VmstepError(`-p: the host port ${key} is given twice`, 'publish each host port once');
    seen.add(key);
  }
  return ports;
}

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}$/;

/**
 * Parses the --link values into one link per name (a name may come with
 * several ports of the same VM) and gives each name its loopback address.
 */
export function parseLinks(values: string[]): LinkSpec[] {
  const links: LinkSpec[] = [];
  for (const value of values) {
    const m = /^([^=]+)=(.+):([^:]+)$/.exec(value);
    if (!m) throw new VmstepError(`--link "${value}" is not NAME=VM:PORT`, 'give it as --link db=postgres-vm:5432');
    const [, name, vm, portText] = m as unknown as [string, string, string, string];
    if (!NAME.test(name) || name === 'localhost') throw new VmstepError(`--link "${value}": "${name}" is not a host name a link can take`, 'use letters, digits, "-", "." and "_", such as db or redis');
    const p = port(portText, 'port', '--link');
    const existing = links.find((l) => l.name === name);
    if (existing && existing.vm !== vm) throw new VmstepError(`--link: the name "${name}" is linked to two VMs (${existing.vm} and ${vm})`, 'give each VM its own name');
    if (existing) {
      if (!existing.ports.includes(p)) existing.ports.push(p);
      if (existing.ports.length > MAX_LINK_PORTS) throw new VmstepError(`--link: "${name}" names more than ${MAX_LINK_PORTS} ports`, `link at most ${MAX_LINK_PORTS} ports of one VM`);
      continue;
    }
    if (links.length === MAX_LINKS) throw new VmstepError(`--link: more than ${MAX_LINKS} names`, `link at most ${MAX_LINKS} names into one VM`);
    links.push({ name, vm, ports: [p], address: `127.0.0.${links.length + 2}` });
  }
  return links;
}
