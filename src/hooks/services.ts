// Service containers (`services:` in the workflow): each runs in a VM of its
// own with its own command, as `vmstep start` runs an image. The job's VM
// (and every container step's) reaches a service by its name in the
// workflow on its container ports, carried over vsock (src/ports links);
// `ports:` mappings are published on the runner host. prepare_job waits
// until each service accepts connections on its ports, as Docker's
// implementation waits for health checks.
import type { Socket } from 'node:net';
import { VmstepError } from '../engine/errors.js';
import { CarrierRefused, openForward } from '../ports/carrier.js';
import { MAX_LINKS, type LinkSpec, type PortMapping } from '../ports/spec.js';
import { delay } from '../engine/prepare.js';
import type { FoundVm } from '../vms/registry.js';
import { vmPaths } from '../vms/state.js';
import { ignoredOptionsWarning, parseCreateOptions } from './create-options.js';
import { warn, type HookContext } from './context.js';
import type { HookContainer } from './input.js';
import { jobVmPrefix } from './job.js';

/** How long prepare_job waits for a service to accept connections on its ports. */
export const SERVICE_READY_MS = 5 * 60 * 1000;

/** A `ports:` entry as the runner sends it: `HOST:CONTAINER`, `IP:HOST:CONTAINER` or `CONTAINER` (a free host port), with an optional `/tcp`. */
export function parsePortMapping(text: string, service: string): PortMapping {
  const m = /^(?:(\d{1,3}(?:\.\d{1,3}){3}):)?(?:(\d{1,5}):)?(\d{1,5})(?:\/(tcp|udp))?$/.exec(text.trim());
  const n = (s: string | undefined) => (s === undefined ? 0 : Number(s));
  if (!m || n(m[3]) < 1 || n(m[3]) > 65535 || n(m[2]) > 65535) {
    throw new VmstepError(`service ${service}: the port mapping "${text}" is not [HOST_IP:][HOST_PORT:]CONTAINER_PORT`, 'write it as 6379:6379 or 6379 in the service\'s ports:');
  }
  if (m[4] === 'udp') throw new VmstepError(`service ${service}: the port mapping "${text}" is UDP; only TCP is carried into microVMs`, 'drop the UDP port from the service\'s ports:');
  return { hostIp: m[1] ?? '127.0.0.1', hostPort: n(m[2]), guestPort: n(m[3]) };
}

/** A VM name for the service: the job's prefix, its position, and its name made safe. */
export function serviceVmName(key: string, index: number, contextName: string): string {
  return `${jobVmPrefix(key)}svc${index}-${contextName.replace(/[^A-Za-z0-9_.-]/g, '_')}`.slice(0, 64);
}

export interface StartedService {
  id: string;
  /** What the job's VMs get for it. */
  link: LinkSpec;
  ports: PortMapping[];
}

/** Checks every service's image, options and ports before anything starts; refusals are one line. */
export function planServices(services: HookContainer[], ctx: HookContext) {
  if (services.length > MAX_LINKS) throw new VmstepError(`the job has ${services.length} services; the vmstep hooks link at most ${MAX_LINKS}`, 'use fewer services');
  return services.map((s, i) => {
    const name = s.contextName ?? `service${i}`;
    if (!s.image) throw new VmstepError(`service ${name} has no image`, 'give the service an image: in the workflow');
    const options = parseCreateOptions(s.createOptions, ctx.env);
    const ignored = ignoredOptionsWarning(options);
    if (ignored) warn(ctx, `service ${name}: ${ignored}`);
    const ports = s.portMappings.map((p) => parsePortMapping(p, name));
    const containerPorts = [...new Set(ports.map((p) => p.guestPort))];
    return { s, i, name, options, ports, containerPorts };
  });
}

/** Boots every service's VM, publishes its ports and waits until it serves them. */
export async function startServices(plans: ReturnType<typeof planServices>, key: string, ctx: HookContext): Promise<StartedService[]> {
  // Each service boots while the others do: boots are the slow part.
  const started = await Promise.all(
    plans.map(async ({ s, i, name, options, ports, containerPorts }): Promise<StartedService> => {
      const id = await ctx.vms.start(
        {
          name: serviceVmName(key, i, name),
          image: s.image!,
          credentials: s.registry?.username && s.registry.password ? { username: s.registry.username, password: s.registry.password } : null,
          vcpus: options.vcpus,
          memoryBytes: options.memoryBytes,
          env: [...Object.entries(s.environmentVariables).map(([k, v]) => `${k}=${v}`), ...options.env],
          user: options.user,
          workdir: s.workingDirectory,
          volumes: [],
          command: { entrypoint: s.entryPoint ? [s.entryPoint] : null, args: s.entryPointArgs },
          ports,
        },
        ctx.signal,
      );
      for (const port of containerPorts) await ctx.vms.waitForPort(id, port, SERVICE_READY_MS, ctx.signal);
      return { id, ports, link: { name, vm: id, ports: containerPorts, address: `127.0.0.${i + 2}` } };
    }),
  );
  for (const st of started) {
    if (st.link.ports.length === 0) warn(ctx, `service ${st.link.name} has no ports: in the workflow, so the job cannot reach it (only the container ports listed there are linked into the job's VM)`);
  }
  return started;
}

/** Links for the job's VMs: only services with ports can be reached. */
export function serviceLinks(started: StartedService[]): LinkSpec[] {
  return started.filter((s) => s.link.ports.length > 0).map((s) => s.link);
}

/** The services' entries in prepare_job's response, in the order the runner asked for them. */
export function serviceContexts(started: StartedService[]) {
  return started.map((s) => ({
    id: s.id,
    network: 'vmstep',
    ports: Object.fromEntries(s.ports.map((p) => [String(p.guestPort), String(p.hostPort)])),
  }));
}

/**
 * Polls a port in the VM through a carrier until something accepts on it:
 * a refused FORWARD means nothing listens yet.
 */
export async function waitForGuestPort(v: FoundVm, port: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    if (signal?.aborted) throw new VmstepError('the job was cancelled', '');
    let carrier: Socket | null = null;
    try {
      carrier = await openForward({ kind: 'vmm', udsPath: vmPaths(v.dir).vsock }, port, signal);
      carrier.destroy();
      return;
    } catch (err) {
      if (!(err instanceof CarrierRefused)) throw err;
      last = err.message;
      if (/not running|closed the connection before/.test(last)) throw new VmstepError(`service VM ${v.record.name} stopped before it served port ${port}: ${last}`, 'see the service\'s output with `vmstep logs` and fix its image or command');
    }
    if (Date.now() > end) throw new VmstepError(`service VM ${v.record.name} did not accept connections on port ${port} within ${Math.round(timeoutMs / 1000)} s (${last})`, 'check the service\'s command and that it listens on that port');
    await delay(250);
  }
}
