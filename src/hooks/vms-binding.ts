// HookVms over vmstep's long-lived VMs (src/vms) and the session transfer
// API (src/session): what the hooks run on in production and in the
// end-to-end tests.
import type { Socket } from 'node:net';
import { VmstepError } from '../engine/errors.js';
import { validateRunInput } from '../engine/validate.js';
import { resolveImage } from '../image/index.js';
import { DEFAULT_PATH, connectSession, getEntries, listEntries, putEntries, type TransferLimits } from '../session/index.js';
import { execInVm, listVms, startVm, stopVm } from '../vms/index.js';
import { lookupVm, markSession, type FoundVm } from '../vms/registry.js';
import { vmPaths } from '../vms/state.js';
import type { EntryMeta, TransferEntry } from './sync.js';
import type { HookVms } from './vms.js';
import { readVmPorts } from '../ports/keeper.js';
import { waitForGuestPort } from './services.js';

/** GitHub ends a job after 6 hours by default; a VM the runner forgot ends soon after. */
const JOB_LIFETIME_MS = 6.5 * 60 * 60 * 1000;
/** What a sync out of a job's VM may bring, all entries and bytes together. */
const SYNC_LIMITS: TransferLimits = { maxEntries: 2_000_000, maxBytes: 64 * 2 ** 30 };
/** Steps' processes get this long after SIGTERM when the job ends. */
const STOP_GRACE_SECONDS = 2;

async function withSession<T>(v: FoundVm, fn: (socket: Socket) => Promise<T>): Promise<T> {
  const end = markSession(v);
  try {
    const socket = await connectSession({ kind: 'vmm', udsPath: vmPaths(v.dir).vsock }).catch((err: Error) => {
      throw new VmstepError(`the job's VM ${v.record.name}: ${err.message}`, 'the VM stopped; see the runner\'s diagnostics and rerun the job');
    });
    try {
      // connectSession hands the socket over paused (what follows its handshake waits in it): the reader attaches synchronously in fn, then it flows.
      const done = fn(socket);
      socket.resume();
      return await done;
    } finally {
      socket.destroy();
    }
  } finally {
    end();
  }
}

function lastValue(name: string, env: readonly string[]): string | null {
  for (let i = env.length - 1; i >= 0; i--) if (env[i]!.startsWith(`${name}=`)) return env[i]!.slice(name.length + 1);
  return null;
}

const isMissing = (err: unknown) => /no such file|not found|ENOENT/i.test(String((err as Error)?.message));

export function bindVms(hostEnv: NodeJS.ProcessEnv): HookVms {
  return {
    async start(spec, signal, progress) {
      const run = validateRunInput(
        {
          image: spec.image,
          env: spec.env,
          ...(spec.user ? { user: spec.user } : {}),
          ...(spec.workdir ? { workdir: spec.workdir } : {}),
          ...(spec.vcpus ? { vcpus: spec.vcpus } : {}),
          ...(spec.memoryBytes ? { memory: spec.memoryBytes } : {}),
          ...(spec.credentials ? { registryUsername: spec.credentials.username, registryPassword: spec.credentials.password } : {}),
          volumes: spec.volumes.map((v) => `${v.hostPath}:${v.guestPath}`),
          ...(spec.command?.entrypoint ? { entrypoint: spec.command.entrypoint } : {}),
          ...(spec.command ? { command: spec.command.args } : {}),
        },
        { style: 'cli', cwd: '/', hostEnv },
      );
      if (signal?.aborted) throw new VmstepError('the job was cancelled', '');
      const info = await startVm(
        { run, name: spec.name, noCommand: !spec.command, lifetimeMs: JOB_LIFETIME_MS, hostEnv, ...(spec.ports ? { ports: spec.ports } : {}), ...(spec.links ? { links: spec.links } : {}) },
        progress ? { progress } : {},
      );
      return info.id;
    },

    async imageConfig(id, credentials) {
      const v = lookupVm(id, hostEnv);
      if (v.record.imageConfig) return v.record.imageConfig;
      // A VM started by an older keeper: the registry is asked again, with the image's credentials.
      return (await resolveImage(v.record.image.reference, credentials ? { credentials } : {})).config;
    },

    async exec(id, s) {
      let env = s.env;
      if (s.prependPath.length > 0) {
        const base = lookupVm(id, hostEnv).record.exec?.env ?? [];
        const path = lastValue('PATH', s.env) ?? lastValue('PATH', base) ?? DEFAULT_PATH;
        env = [...s.env, `PATH=${[...s.prependPath, path].join(':')}`];
      }
      const r = await execInVm(id, { argv: s.argv, env, ...(s.workdir ? { workdir: s.workdir } : {}), stdout: s.stdout, stderr: s.stderr, ...(s.signal ? { signal: s.signal } : {}), hostEnv });
      return r.exitCode;
    },

    async put(id, guestPath, entries) {
      const v = lookupVm(id, hostEnv);
      // Owned by the user the steps run as, as the copies made at start are: a step must be able to write its GITHUB_OUTPUT.
      const user = v.record.exec?.user;
      await withSession(v, (socket) => putEntries(socket, guestPath, entries, user ? { user } : {}));
    },

    async list(id, guestPath): Promise<EntryMeta[] | null> {
      try {
        return await withSession(lookupVm(id, hostEnv), (socket) => listEntries(socket, guestPath, { limits: SYNC_LIMITS }));
      } catch (err) {
        if (isMissing(err)) return null;
        throw err;
      }
    },

    get(id, guestPath): AsyncIterable<TransferEntry> {
      return {
        async *[Symbol.asyncIterator]() {
          const v = lookupVm(id, hostEnv);
          const end = markSession(v);
          try {
            const socket = await connectSession({ kind: 'vmm', udsPath: vmPaths(v.dir).vsock });
            const entries = getEntries(socket, guestPath, { limits: SYNC_LIMITS });
            try {
              // The generator's first step attaches its reader; only then may the paused socket flow.
              const first = entries.next();
              socket.resume();
              for (let r = await first; !r.done; r = await entries.next()) yield r.value;
            } finally {
              await entries.return(undefined);
              socket.destroy();
            }
          } finally {
            end();
          }
        },
      };
    },

    async stop(id) {
      // stopVm returns once the VM's keeper and VMM are gone; a VM that is already gone is what cleanup wants.
      try {
        await stopVm(id, { timeSeconds: STOP_GRACE_SECONDS, hostEnv });
      } catch (err) {
        if (!/no such VM/.test(String((err as Error).message))) throw err;
      }
    },

    published: async (id) => readVmPorts(lookupVm(id, hostEnv).dir).ports,

    waitForPort: (id, port, timeoutMs, signal) => waitForGuestPort(lookupVm(id, hostEnv), port, timeoutMs, signal),

    async named(prefix) {
      return listVms({ all: true, hostEnv }).filter((v) => v.name.startsWith(prefix)).map((v) => v.id);
    },
  };
}
