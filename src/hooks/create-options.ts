// A container's `options:` (the runner's createOptions: docker create
// flags as one string). A microVM honours the ones that mean the same for a
// VM: --cpus (rounded up to whole vCPUs), --memory/-m, -e/--env,
// --user/-u, --entrypoint, and the health check flags (--health-cmd,
// --health-interval, --health-timeout, --health-retries,
// --health-start-period, --health-start-interval, --no-healthcheck), which
// prepare_job runs for services as Docker would (health.ts). Every other
// flag is named in one warning line rather than failing the job: workflows
// written for docker carry flags such as --init or --network that have no
// VM equivalent and do no harm when left out.
import { VmstepError } from '../engine/errors.js';
import { parseEnvAssignment, type HostEnv } from '../engine/env.js';
import { parseSize } from '../engine/units.js';
import { splitCommandLine } from './command-line.js';
import { MAX_HEALTH_DURATION_MS, MAX_HEALTH_RETRIES, noHealthOptions, type HealthOptions } from './health.js';

export interface CreateOptions {
  vcpus: number | null;
  memoryBytes: number | null;
  /** `NAME=value`, in order. */
  env: string[];
  user: string | null;
  /** --entrypoint: null when not given; [] when given empty (it clears the image's ENTRYPOINT). */
  entrypoint: string[] | null;
  health: HealthOptions;
  /** Flags given but not honoured, as written (without their values). */
  ignored: string[];
}

// docker create flags that take no value; every other unknown flag is taken
// to have one, so that its value is not mistaken for the next flag.
const DOCKER_BOOLEAN_FLAGS = new Set([
  '--privileged', '--init', '--rm', '-t', '--tty', '-i', '--interactive', '--read-only', '-d', '--detach',
  '--oom-kill-disable', '-P', '--publish-all', '--sig-proxy', '--help',
]);

const WHERE = 'container options';

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A duration as Docker's flags take it (Go's time.ParseDuration: 10s, 1m30s,
 * 500ms, 1.5h), in milliseconds. A bare number other than 0 has no unit and
 * is refused, as Docker does; so are negative durations and ones over a day.
 */
export function parseDuration(text: string, flag: string): number {
  const fix = `write ${flag} as Docker does: 10s, 1m30s or 500ms`;
  if (text.startsWith('-')) throw new VmstepError(`${WHERE}: ${flag} "${text}" is negative`, fix);
  if (text === '0' || text === '+0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let at = text.startsWith('+') ? 1 : 0;
  if (at === text.length) throw new VmstepError(`${WHERE}: ${flag} "${text}" is not a duration`, fix);
  let ms = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) throw new VmstepError(`${WHERE}: ${flag} "${text}" is not a duration`, fix);
    ms += Number(m[1]) * UNIT_MS[m[2]!]!;
    at = re.lastIndex;
  }
  if (ms > MAX_HEALTH_DURATION_MS) throw new VmstepError(`${WHERE}: ${flag} "${text}" is longer than a day`, fix);
  return ms;
}

/** --health-retries: a count; 0, as in Docker, means the default. */
export function parseRetries(text: string): number {
  const n = /^\+?\d{1,7}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 0 && n <= MAX_HEALTH_RETRIES)) throw new VmstepError(`${WHERE}: --health-retries "${text}" is not a number of retries`, `write a whole number from 0 to ${MAX_HEALTH_RETRIES}, such as --health-retries 5`);
  return n;
}

const HEALTH_DURATIONS = {
  '--health-interval': 'intervalMs',
  '--health-timeout': 'timeoutMs',
  '--health-start-period': 'startPeriodMs',
  '--health-start-interval': 'startIntervalMs',
} as const;

export function parseCreateOptions(text: string | null, hostEnv: HostEnv = process.env): CreateOptions {
  const out: CreateOptions = { vcpus: null, memoryBytes: null, env: [], user: null, entrypoint: null, health: noHealthOptions(), ignored: [] };
  const healthFlags: string[] = [];
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
      case '--entrypoint': {
        // Docker takes the whole value as the program: --entrypoint "" clears the image's ENTRYPOINT.
        const v = takeValue();
        if (v.includes('\0')) throw new VmstepError(`${WHERE}: --entrypoint holds a NUL byte`, 'write --entrypoint PROGRAM');
        out.entrypoint = v === '' ? [] : [v];
        break;
      }
      case '--health-cmd': {
        const v = takeValue();
        if (v.includes('\0')) throw new VmstepError(`${WHERE}: --health-cmd holds a NUL byte`, 'write --health-cmd "COMMAND"');
        // An empty command, as in Docker, leaves the image's.
        out.health.cmd = v === '' ? null : v;
        healthFlags.push(name);
        break;
      }
      case '--health-interval':
      case '--health-timeout':
      case '--health-start-period':
      case '--health-start-interval': {
        const v = takeValue();
        const ms = parseDuration(v, name);
        // Docker takes 0 as "the default" and refuses what is under a millisecond otherwise.
        if (ms > 0 && ms < 1) throw new VmstepError(`${WHERE}: ${name} "${v}" is shorter than a millisecond`, `write ${name} as 1ms or more, or 0 for the default`);
        out.health[HEALTH_DURATIONS[name]] = ms === 0 ? null : ms;
        healthFlags.push(name);
        break;
      }
      case '--health-retries': {
        const n = parseRetries(takeValue());
        out.health.retries = n === 0 ? null : n;
        healthFlags.push(name);
        break;
      }
      case '--no-healthcheck':
        // A boolean flag: alone, or =true / =false as Go's flags take it.
        if (value !== undefined && value !== 'true' && value !== 'false') throw new VmstepError(`${WHERE}: --no-healthcheck=${value} is not true or false`, 'write --no-healthcheck alone');
        out.health.disabled = value !== 'false';
        break;
      default:
        if (value === undefined && !DOCKER_BOOLEAN_FLAGS.has(name) && args[i + 1] !== undefined && !args[i + 1]!.startsWith('-')) i++;
        out.ignored.push(name);
    }
  }
  if (out.health.disabled && healthFlags.length > 0) {
    throw new VmstepError(`${WHERE}: --no-healthcheck conflicts with ${[...new Set(healthFlags)].join(', ')}`, 'give either --no-healthcheck or the --health-* options, as Docker requires');
  }
  return out;
}

/** The one warning line for flags a microVM does not honour, or null when there are none. */
export function ignoredOptionsWarning(opts: CreateOptions): string | null {
  if (opts.ignored.length === 0) return null;
  const names = [...new Set(opts.ignored)].join(', ');
  return `vmstep hooks: ignoring container options ${names}: a microVM honours only --cpus, --memory, -e/--env, --user, --entrypoint and the --health-* options`;
}
