// `vmstep start -p/--link` options and `vmstep port VM`: TCP carried over
// vsock to and between VMs (src/ports).
import { VmstepError } from '../engine/errors.js';
import { checkPublished, parseLinks, parsePublish, type LinkSpec, type PortMapping } from '../ports/spec.js';
import { readVmPorts } from '../ports/keeper.js';
import { formatOptions, listValue, type OptionSpec, type Values } from './args.js';
import type { CliIo } from './io.js';
import { oneVmCommandLine } from './vm-arg.js';

export const NETWORK_OPTIONS: OptionSpec[] = [
  { key: 'publish', long: 'publish', short: 'p', value: '[HOST_IP:]HOST_PORT:GUEST_PORT', repeatable: true, help: "Carry the host port's TCP connections to the guest port (host side 127.0.0.1 unless HOST_IP is given)" },
  { key: 'link', long: 'link', value: 'NAME=VM:PORT', repeatable: true, help: "Make NAME resolve in this VM to a loopback address whose PORT reaches PORT of the running VM (repeatable)" },
];

/** The -p and --link values of a start, checked. */
export function networkFrom(values: Values): { ports?: PortMapping[]; links?: LinkSpec[] } {
  const ports = checkPublished(listValue(values, 'publish').map(parsePublish));
  const links = parseLinks(listValue(values, 'link'));
  return { ...(ports.length ? { ports } : {}), ...(links.length ? { links } : {}) };
}

const PORT_OPTIONS: OptionSpec[] = [{ key: 'help', long: 'help', short: 'h', help: 'Show this help' }];

const PORT_HELP = `Usage: vmstep port VM

List the VM's published ports (GUEST_PORT/tcp -> HOST_IP:HOST_PORT) and its
links (NAME:PORT -> VM:PORT), as \`vmstep start -p\` and \`--link\` set them.

Options:
${formatOptions(PORT_OPTIONS)}
`;

export async function portCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = oneVmCommandLine(argv, PORT_OPTIONS, io, { command: 'vmstep port', usage: 'vmstep port VM', help: PORT_HELP });
  if (!parsed) return 0;
  const { vm } = parsed;
  if (vm.status !== 'running') throw new VmstepError(`VM ${vm.name} is ${vm.status}, not running: it has no ports`, `see \`vmstep ps -a\``);
  const { ports, links } = readVmPorts(vm.dir);
  for (const p of ports) io.stdout.write(`${p.guestPort}/tcp -> ${p.hostIp}:${p.hostPort}\n`);
  for (const l of links) for (const port of l.ports) io.stdout.write(`${l.name}:${port} (${l.address}) -> ${l.vm}:${port}\n`);
  return 0;
}
