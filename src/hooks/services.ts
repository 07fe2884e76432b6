// Service containers (`services:` in the workflow): each runs in a VM of its
// own with its own command, as `vmstep start` runs an image. The job's VM
// (and every container step's) reaches a service by its name in the
// workflow, carried over vsock (src/ports links), on the container ports of
// its `ports:` and the ports its image exposes: in a Docker container job
// the job reaches a service on any of its ports without `ports:`, and
// workflows rely on that. `ports:` mappings are published on the runner
// host. Before the first step, prepare_job waits for each service as
// Docker's implementation does, by its health check (health.ts) where it
// has one; without one, until it accepts connections on its ports (which
// Docker does not wait for, but a job's first step usually needs).
import type { Socket } from 'node:net';
import { VmstepError } from '../engine/errors.js';
import { CarrierRefused, openForward } from '../ports/carrier.js';
import { MAX_LINKS, MAX_LINK_PORTS, type LinkSpec, type PortMapping } from '../ports/spec.js';
import { delay } from '../engine/prepare.js';
import type { FoundVm } from '../vms/registry.js';
import { vmPaths } from '../vms/state.js';
import { ignoredOptionsWarning, parseCreateOptions } from './create-options.js';
import { warn, type HookContext } from './context.js';
import { resolveHealthCheck, waitHealthy, type Clock } from './health.js';
import type { HookContainer } from './input.js';
import { jobVmPrefix } from './job.js';

/** How long prepare_job waits for a service without a health check to accept connections on its ports. */
export const SERVICE_READY_MS = 5 * 60 * 1000;

/**
 * A `ports:` entry as the runner sends it: `HOST:CONTAINER`,
 * `IP:HOST:CONTAINER` or `CONTAINER` (a free host port), with an optional
 * `/tcp`. `service` names the service it belongs to; null for the job container.
 */
export function parsePortMapping(text: string, service: string | null): PortMapping {
  const who = service === null ? 'the job container' : `service ${service}`;
  const whose = service === null ? "the job container's ports:" : "the service's ports:";
  const m = /^(?:(\d{1,3}(?:\.\d{1,3}){3}):)?(?:(\d{1,5}):)?(\d{1,5})(?:\/(tcp|udp))?$/.exec(text.trim());
  const n = (s: string | undefined) => (s === undefined ? 0 : Number(s));
  if (!m || n(m[3]) < 1 || n(m[3]) > 65535 || n(m[2]) > 65535) {
    throw new VmstepError(`${who}: the port mapping "${text}" is not [HOST_IP:][HOST_PORT:]CONTAINER_PORT`, `write it as 6379:6379 or 6379 in ${whose}`);
  }
  if (m[4] === 'udp') throw new VmstepError(`${who}: the port mapping "${text}" is UDP; only TCP is carried into microVMs`, `drop the UDP port from ${whose}`);
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
    // The runner puts the service's own entrypoint after its options, so it wins over --entrypoint there.
    const entrypoint = s.entryPoint ? [s.entryPoint] : options.entrypoint;
    if (entrypoint?.length === 0 && s.entryPointArgs.length === 0) {
      throw new VmstepError(`service ${name}: --entrypoint "" clears its image's ENTRYPOINT and the service gives no command to run instead`, 'drop --entrypoint "" from the service\'s options, or give --entrypoint PROGRAM');
    }
    const credentials = s.registry?.username && s.registry.password ? { username: s.registry.username, password: s.registry.password } : null;
    return { s, i, name, options, ports, containerPorts, entrypoint, credentials };
  });
}

/**
 * The ports a service is linked on: its `ports:` container ports first,
 * then the TCP ports its image exposes, at most MAX_LINK_PORTS in all.
 */
export function servicePorts(mapped: readonly number[], exposed: readonly number[]): { ports: number[]; leftOut: number[] } {
  const all = [...new Set([...mapped, ...exposed])];
  return { ports: all.slice(0, MAX_LINK_PORTS), leftOut: all.slice(MAX_LINK_PORTS) };
}

/** Resolves once something accepts on one of the ports (the others stop waiting then). */
async function waitForAnyPort(ctx: HookContext, id: string, ports: number[], signal: AbortSignal): Promise<void> {
  const won = new AbortController();
  const either = AbortSignal.any([signal, won.signal]);
  try {
    await Promise.any(ports.map((p) => ctx.vms.waitForPort(id, p, SERVICE_READY_MS, either)));
  } catch (err) {
    throw err instanceof AggregateError ? err.errors[0] : err;
  } finally {
    won.abort();
  }
}

/**
 * Boots every service's VM, publishes its ports and waits until it is ready:
 * its health check passes, or, without one, it accepts connections on each
 * of its `ports:` (on any one of its image's ports when it has no `ports:`:
 * an image may expose ports it serves only when configured to).
 */
export async function startServices(plans: ReturnType<typeof planServices>, key: string, ctx: HookContext, clock?: Clock): Promise<StartedService[]> {
  // The first service that fails ends the others' waits, so that the hook can exit with its error.
  const failed = new AbortController();
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, failed.signal]) : failed.signal;
  const log = (line: string) => ctx.stdout.write(`${line}\n`);
  // Each service boots while the others do: boots are the slow part.
  const started = await Promise.all(
    plans.map(async ({ s, i, name, options, ports, containerPorts, entrypoint, credentials }): Promise<StartedService> => {
      try {
        const id = await ctx.vms.start(
          {
            name: serviceVmName(key, i, name),
            image: s.image!,
            credentials,
            vcpus: options.vcpus,
            memoryBytes: options.memoryBytes,
            env: [...Object.entries(s.environmentVariables).map(([k, v]) => `${k}=${v}`), ...options.env],
            user: options.user,
            workdir: s.workingDirectory,
            volumes: [],
            command: { entrypoint, args: s.entryPointArgs },
            ports,
          },
          signal,
        );
        const startedAt = (clock ?? Date).now();
        const image = await ctx.vms.imageConfig(id, credentials);
        const linked = servicePorts(containerPorts, image.exposedPorts);
        if (linked.leftOut.length > 0) {
          warn(ctx, `service ${name}: linked on ports ${linked.ports.join(', ')} only; ${linked.leftOut.join(', ')} ${linked.leftOut.length === 1 ? 'is' : 'are'} left out (a link carries at most ${MAX_LINK_PORTS} ports): list the ports the job needs in the service's ports:`);
        }
        if (linked.ports.length === 0) {
          warn(ctx, `service ${name} has no ports: in the workflow and its image exposes no TCP port, so the job cannot reach it: add the container port it listens on to the service's ports: (such as ports: [ 8080 ])`);
        }
        const check = resolveHealthCheck(options.health, image.healthcheck);
        if (check) {
          log(`service ${name}: waiting for its health check \`${check.shown}\` to pass`);
          await waitHealthy(ctx.vms, id, name, check, { startedAt, signal, log, ...(clock ? { clock } : {}) });
        } else if (containerPorts.length > 0) {
          for (const port of containerPorts) await ctx.vms.waitForPort(id, port, SERVICE_READY_MS, signal);
        } else if (linked.ports.length > 0) {
          await waitForAnyPort(ctx, id, linked.ports, signal);
        }
        // `ports: [6379]` asks for a free host port: the context gives the one the keeper bound.
        return { id, ports: await ctx.vms.published(id), link: { name, vm: id, ports: linked.ports, address: `127.0.0.${i + 2}` } };
      } catch (err) {
        failed.abort();
        throw err;
      }
    }),
  );
  return started;
}

/** Links for the job's VMs: only services with ports can be reached. */
export function serviceLinks(started: StartedService[]): LinkSpec[] {
  return started.filter((s) => s.link.ports.length > 0).map((s) => s.link);
}

/** The services' entries in prepare_job's response, in the order the runner asked for them. */
export function serviceContexts(started: StartedService[]) {
  return started.map((s) => ({ id: s.id, network: 'vmstep', ports: portsContext(s.ports) }));
}

/** `ports` of a container's context, as Docker's implementation gives it: container port -> host port. */
export function portsContext(ports: PortMapping[]): Record<string, string> {
  return Object.fromEntries(ports.map((p) => [String(p.guestPort), String(p.hostPort)]));
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
