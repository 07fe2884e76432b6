// The keeper's side of a VM's networking: its published ports and links,
// with the linked VMs found in the user's state directory, and what
// `vmstep port` lists written beside the VM's record.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VmstepError } from '../engine/errors.js';
import { findVm } from '../vms/index.js';
import { vmPaths } from '../vms/state.js';
import { LINK_VSOCK_PORT } from '../session/protocol.js';
import { openNetwork, type Network } from './network.js';
import type { LinkSpec, PortMapping } from './spec.js';

/** What `vmstep port` shows, kept in the VM's directory. */
export interface VmPorts {
  ports: PortMapping[];
  links: LinkSpec[];
}

const portsFile = (dir: string) => join(dir, 'ports.json');

/** The session endpoint of a running VM, by reference. */
export function vmEndpoint(ref: string) {
  const vm = findVm(ref);
  if (vm.status !== 'running') throw new VmstepError(`the linked VM ${vm.name} is ${vm.status}, not running`, 'start it first, then this VM');
  return { kind: 'vmm' as const, udsPath: vmPaths(vm.dir).vsock };
}

export async function openVmNetwork(dir: string, ports: PortMapping[], links: LinkSpec[]): Promise<Network> {
  const network = await openNetwork({
    ports,
    links,
    linkSocketPath: `${vmPaths(dir).vsock}_${LINK_VSOCK_PORT}`,
    linkTarget: vmEndpoint,
    log: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
  });
  const record: VmPorts = { ports: network.published, links };
  writeFileSync(`${portsFile(dir)}.tmp`, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  renameSync(`${portsFile(dir)}.tmp`, portsFile(dir));
  return network;
}

/** A VM's published ports and links as its keeper bound them; none when it has none. */
export function readVmPorts(dir: string): VmPorts {
  try {
    return JSON.parse(readFileSync(portsFile(dir), 'utf8')) as VmPorts;
  } catch {
    return { ports: [], links: [] };
  }
}
