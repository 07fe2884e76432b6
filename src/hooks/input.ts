// The JSON object the GitHub runner writes to a container hook's stdin, typed
// once and checked strictly. The runner's own sources are the contract
// (ContainerHookManager and HookInput in actions/runner): camelCase names,
// null for what it did not set, `prependPath` as an array (older runners sent
// one ':'-joined string; both are accepted), `registry` with fields that may
// be null, `state` null before prepare_job has answered. Anything else is
// refused with one line naming the field and what the runner should have
// sent, so that a misconfigured runner or a hand-written replay fails loudly
// instead of running a job half-understood.
import { posix } from 'node:path';
import { VmstepError } from '../engine/errors.js';

export type HookCommand = 'prepare_job' | 'run_script_step' | 'run_container_step' | 'cleanup_job';
export const HOOK_COMMANDS: readonly HookCommand[] = ['prepare_job', 'run_script_step', 'run_container_step', 'cleanup_job'];

export interface Mount {
  /** A host path, or a docker volume name for user volumes. Null for `-v /target` style volumes. */
  sourceVolumePath: string | null;
  targetVolumePath: string;
  readOnly: boolean;
}

export interface Registry {
  username: string | null;
  password: string | null;
  serverUrl: string | null;
}

/** A container as the runner describes it (HookContainer). */
export interface HookContainer {
  /** A service's name in the workflow (its host name for the job); null for the job container. */
  contextName: string | null;
  image: string | null;
  dockerfile: string | null;
  entryPoint: string | null;
  entryPointArgs: string[];
  workingDirectory: string | null;
  createOptions: string | null;
  registry: Registry | null;
  environmentVariables: Record<string, string>;
  portMappings: string[];
  systemMountVolumes: Mount[];
  userMountVolumes: Mount[];
}

export interface PrepareJobArgs {
  container: HookContainer | null;
  services: HookContainer[];
}

export interface ScriptStepArgs {
  entryPoint: string;
  entryPointArgs: string[];
  environmentVariables: Record<string, string>;
  /** First entry first: these go ahead of the container's PATH in this order. */
  prependPath: string[];
  workingDirectory: string;
}

/** What our prepare_job hands the runner as `state`, and gets back with every later command. */
export interface HookState {
  vmstep: {
    /** The job's directory key (see job.ts). */
    job: string;
    /** The job VM's id. */
    vm: string;
  };
}

export type HookInput =
  | { command: 'prepare_job'; responseFile: string; args: PrepareJobArgs; state: HookState | null }
  | { command: 'run_script_step'; responseFile: string | null; args: ScriptStepArgs; state: HookState | null }
  | { command: 'run_container_step'; responseFile: string | null; args: HookContainer; state: HookState | null }
  | { command: 'cleanup_job'; responseFile: string | null; args: Record<string, never>; state: HookState | null };

const RUNNER_FIX = 'the runner sends this itself; check that ACTIONS_RUNNER_CONTAINER_HOOKS points at dist/hooks.js and the runner is 2.300 or newer, or fix the replayed JSON';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(v: unknown): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class Fields {
  constructor(
    private readonly obj: Record<string, Json>,
    readonly where: string,
  ) {}

  private fail(name: string, want: string): never {
    throw new VmstepError(`${this.where}.${name} is ${describe(this.obj[name])}, not ${want}`, RUNNER_FIX);
  }

  has(name: string): boolean {
    return this.obj[name] !== undefined && this.obj[name] !== null;
  }

  string(name: string): string {
    const v = this.obj[name];
    if (typeof v !== 'string' || v === '') this.fail(name, 'a non-empty string');
    return v;
  }

  optString(name: string): string | null {
    const v = this.obj[name];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string') this.fail(name, 'a string or null');
    return v;
  }

  stringList(name: string): string[] {
    const v = this.obj[name];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) this.fail(name, 'an array of strings');
    return v as string[];
  }

  bool(name: string): boolean {
    const v = this.obj[name];
    if (v === undefined || v === null) return false;
    if (typeof v !== 'boolean') this.fail(name, 'true or false');
    return v;
  }

  env(name: string): Record<string, string> {
    const v = this.obj[name];
    if (v === undefined || v === null) return {};
    if (!isObject(v)) this.fail(name, 'an object of NAME: value strings');
    const out: Record<string, string> = Object.create(null);
    for (const [k, val] of Object.entries(v)) {
      // The runner's dictionary may hold a null value for a variable it cleared.
      if (val === null) continue;
      if (typeof val !== 'string') throw new VmstepError(`${this.where}.${name}.${k} is ${describe(val)}, not a string`, RUNNER_FIX);
      if (k === '' || k.includes('=') || k.includes('\0')) throw new VmstepError(`${this.where}.${name} has the variable name ${JSON.stringify(k)}, which cannot be set`, 'environment variable names may not be empty or contain "=" or NUL');
      out[k] = val;
    }
    return out;
  }

  object(name: string): Fields | null {
    const v = this.obj[name];
    if (v === undefined || v === null) return null;
    if (!isObject(v)) this.fail(name, 'an object');
    return new Fields(v, `${this.where}.${name}`);
  }

  objects(name: string): Fields[] {
    const v = this.obj[name];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || v.some((x) => !isObject(x))) this.fail(name, 'an array of objects');
    return (v as Record<string, Json>[]).map((x, i) => new Fields(x, `${this.where}.${name}[${i}]`));
  }

  raw(name: string): Json | undefined {
    return this.obj[name];
  }
}

function describe(v: Json | undefined): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return v === '' ? 'empty' : `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  return `${typeof v} ${String(v)}`;
}

function absoluteGuestPath(f: Fields, name: string): string {
  const p = f.string(name);
  if (!p.startsWith('/') || p.includes('\0')) throw new VmstepError(`${f.where}.${name} "${p}" is not an absolute container path`, RUNNER_FIX);
  return posix.normalize(p);
}

function parseMount(f: Fields): Mount {
  return { sourceVolumePath: f.optString('sourceVolumePath'), targetVolumePath: absoluteGuestPath(f, 'targetVolumePath'), readOnly: f.bool('readOnly') };
}

function parseRegistry(f: Fields | null): Registry | null {
  if (!f) return null;
  return { username: f.optString('username'), password: f.optString('password'), serverUrl: f.optString('serverUrl') };
}

export function parseContainer(f: Fields): HookContainer {
  const workingDirectory = f.has('workingDirectory') ? absoluteGuestPath(f, 'workingDirectory') : null;
  return {
    contextName: f.optString('contextName'),
    image: f.optString('image'),
    dockerfile: f.optString('dockerfile'),
    entryPoint: f.optString('entryPoint'),
    entryPointArgs: f.stringList('entryPointArgs'),
    workingDirectory,
    createOptions: f.optString('createOptions'),
    registry: parseRegistry(f.object('registry')),
    environmentVariables: f.env('environmentVariables'),
    portMappings: f.stringList('portMappings'),
    systemMountVolumes: f.objects('systemMountVolumes').map(parseMount),
    userMountVolumes: f.objects('userMountVolumes').map(parseMount),
  };
}

/** `prependPath` as the runner sends it (an array, newest entry first) or as runners up to 2.293 did (one ':'-joined string). */
function parsePrependPath(f: Fields): string[] {
  const v = f.raw('prependPath');
  if (typeof v === 'string') return v.split(':').filter((p) => p !== '');
  return f.stringList('prependPath').filter((p) => p !== '');
}

function parseState(v: Json | undefined): HookState | null {
  if (v === undefined || v === null) return null;
  if (!isObject(v)) throw new VmstepError(`input.state is ${describe(v)}, not an object`, RUNNER_FIX);
  const ours = v.vmstep;
  if (ours === undefined || ours === null) return null;
  if (!isObject(ours) || typeof ours.job !== 'string' || typeof ours.vm !== 'string' || !/^[0-9a-f]{12,64}$/.test(ours.job) || !/^[0-9a-f]{12}$/.test(ours.vm)) {
    throw new VmstepError('input.state.vmstep is not the state this hook wrote in prepare_job', 'pass on the state from prepare_job\'s response file unchanged');
  }
  return { vmstep: { job: ours.job, vm: ours.vm } };
}

/** Parses the hook's stdin. Throws a VmstepError naming the cause and the fix. */
export function parseHookInput(text: string): HookInput {
  if (text.trim() === '') throw new VmstepError('nothing on stdin', 'the runner writes one JSON object to the hook\'s stdin; run the hook through the runner, or pipe the JSON in');
  let json: Json;
  try {
    json = JSON.parse(text) as Json;
  } catch (err) {
    throw new VmstepError(`stdin is not valid JSON (${(err as Error).message})`, 'the runner writes one JSON object to the hook\'s stdin; check the replayed input');
  }
  if (!isObject(json)) throw new VmstepError(`stdin holds ${describe(json)}, not a JSON object`, RUNNER_FIX);
  const top = new Fields(json, 'input');
  const command = json.command;
  if (typeof command !== 'string' || !(HOOK_COMMANDS as readonly string[]).includes(command)) {
    throw new VmstepError(`input.command is ${describe(command)}, not a command this hook knows`, `the commands are ${HOOK_COMMANDS.join(', ')}`);
  }
  const state = parseState(json.state);
  const args = top.object('args');
  switch (command as HookCommand) {
    case 'prepare_job': {
      if (!args) throw new VmstepError('input.args is missing for prepare_job', RUNNER_FIX);
      const container = args.object('container');
      return {
        command: 'prepare_job',
        responseFile: top.string('responseFile'),
        args: { container: container ? parseContainer(container) : null, services: args.objects('services').map(parseContainer) },
        state,
      };
    }
    case 'run_script_step': {
      if (!args) throw new VmstepError('input.args is missing for run_script_step', RUNNER_FIX);
      return {
        command: 'run_script_step',
        responseFile: top.optString('responseFile'),
        args: {
          entryPoint: args.string('entryPoint'),
          entryPointArgs: args.stringList('entryPointArgs'),
          environmentVariables: args.env('environmentVariables'),
          prependPath: parsePrependPath(args),
          workingDirectory: absoluteGuestPath(args, 'workingDirectory'),
        },
        state,
      };
    }
    case 'run_container_step': {
      if (!args) throw new VmstepError('input.args is missing for run_container_step', RUNNER_FIX);
      return { command: 'run_container_step', responseFile: top.optString('responseFile'), args: parseContainer(args), state };
    }
    case 'cleanup_job':
      return { command: 'cleanup_job', responseFile: top.optString('responseFile'), args: {}, state };
  }
}
