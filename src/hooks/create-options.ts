// A job container's `options:` (the runner's createOptions: docker create
// flags as one string). A microVM honours the ones that mean the same for a
// VM: --cpus (rounded up to whole vCPUs), --memory/-m, -e/--env and
// --user/-u. Every other flag is named in one warning line rather than
// failing the job: workflows written for docker carry flags such as --init
// or --network that have no VM equivalent and do no harm when left out.
import { VmstepError } from '../engine/errors.js';
import { parseEnvAssignment, type HostEnv } from '../engine/env.js';
import { parseSize } from '../engine/units.js';
import { splitCommandLine } from './command-line.js';

export interface CreateOptions {
  vcpus: number | null;
  memoryBytes: number | null;
  /** `NAME=value`, in order. */
  env: string[];
  user: string | null;
  /** Flags given but not honoured, as written (without their values). */
  ignored: string[];
}

// docker create flags that take no value; every other unknown flag is taken
// to have one, so that its value is not mistaken for the next flag.
const DOCKER_BOOLEAN_FLAGS = new Set([
  '--privileged', '--init', '--rm', '-t', '--tty', '-i', '--interactive', '--read-only', '-d', '--detach',
  '--no-healthcheck', '--oom-kill-disable', '-P', '--publish-all', '--sig-proxy', '--help',
]);

const WHERE = 'container options';

export function parseCreateOptions(text: string | null, hostEnv: HostEnv = process.env): CreateOptions {
  const out: CreateOptions = { vcpus: null, memoryBytes: null, env: [], user: null, ignored: [] };
  if (!text) return out;
  const args = splitCommandLine(text);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('-') || arg === '-' ) {
      throw new VmstepError(`${WHERE} "${text}": "${arg}" is not a flag`, 'container options are docker create flags such as --cpus 2 --memory 4g -e NAME=value');
    }
    let name = arg;
    let value: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      name = arg.slice(0, eq);
      value = arg.slice(eq + 1);
    } else if (/^-[emu]./.test(arg)) {
      // docker's short flags take their value glued on too: -eNAME=value, -m4g.
      name = arg.slice(0, 2);
      value = arg.slice(2).replace(/^=/, '');
    }
    const takeValue = (): string => {
      if (value !== undefined) return value;
      const next = args[i + 1];
      if (next === undefined) throw new VmstepError(`${WHERE} "${text}": ${name} needs a value`, `write ${name} VALUE`);
      i++;
      return next;
    };
    switch (name) {
      case '--cpus': {
        const v = takeValue();
        const n = Number(v);
        if (!/^\d*\.?\d+$/.test(v) || !(n > 0)) throw new VmstepError(`${WHERE}: --cpus "${v}" is not a number of CPUs`, 'write a positive number such as --cpus 2 (a fraction is rounded up to whole vCPUs)');
        out.vcpus = Math.ceil(n);
        break;
      }
      case '-m':
      case '--memory':
        out.memoryBytes = parseSize(takeValue(), `${WHERE}: ${name}`);
        break;
      case '-e':
      case '--env': {
        const assignment = parseEnvAssignment(takeValue(), `${WHERE}: ${name}`, hostEnv);
        if (assignment !== null) out.env.push(assignment);
        break;
      }
      case '-u':
      case '--user': {
        const v = takeValue();
        if (v === '' || /[\s\0]/.test(v)) throw new VmstepError(`${WHERE}: --user "${v}" is not a user`, 'write --user NAME, UID or UID:GID');
        out.user = v;
        break;
      }
      default:
        if (value === undefined && !DOCKER_BOOLEAN_FLAGS.has(name) && args[i + 1] !== undefined && !args[i + 1]!.startsWith('-')) i++;
        out.ignored.push(name);
    }
  }
  return out;
}

/** The one warning line for flags a microVM does not honour, or null when there are none. */
export function ignoredOptionsWarning(opts: CreateOptions): string | null {
  if (opts.ignored.length === 0) return null;
  const names = [...new Set(opts.ignored)].join(', ');
  return `vmstep hooks: ignoring container options ${names}: a microVM honours only --cpus, --memory, -e/--env and --user`;
}
