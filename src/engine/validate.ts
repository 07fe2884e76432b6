// Turns a RunInput (what the user wrote) into RunOptions (typed, checked,
// defaulted). Every refusal names the option the way the user's face spells
// it (`--memory` on the command line, input `memory` in a workflow) and says
// how to fix it, so both faces share one set of rules and one set of words.
import { accessSync, constants, statSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { ImageError, parseReference } from '../image/index.js';
import { parseEnvAssignment, readEnvFile, type HostEnv } from './env.js';
import { LIMITS } from '../limits.js';
import { VmstepError } from './errors.js';
import type { RunInput, RunOptions } from './types.js';
import { formatBytes, parseDuration, parseSize } from './units.js';
import { parseVolumes } from './volumes.js';
import { capacityWait } from './capacity.js';

/** How the face names its options: `--memory` (cli) or input "memory" (action). */
export type OptionStyle = 'cli' | 'action';

const CLI_NAMES: Record<string, string> = {
  image: 'IMAGE',
  entrypoint: '--entrypoint',
  command: 'COMMAND',
  env: '--env',
  envFiles: '--env-file',
  workdir: '--workdir',
  user: '--user',
  vcpus: '--vcpus',
  memory: '--memory',
  disk: '--disk',
  timeout: '--timeout',
  outputs: '--output',
  outputDir: '--output-dir',
  kernel: '--kernel',
  registryUsername: 'registry user name',
  registryPassword: 'registry password',
  volumes: '--volume',
  wait: '--wait',
};

const ACTION_NAMES: Record<string, string> = {
  image: 'input "image"',
  entrypoint: 'input "entrypoint"',
  command: 'input "args"',
  env: 'input "env"',
  envFiles: 'env file',
  workdir: 'input "workdir"',
  user: 'input "user"',
  vcpus: 'input "vcpus"',
  memory: 'input "memory"',
  disk: 'input "disk"',
  timeout: 'input "timeout"',
  outputs: 'input "outputs"',
  outputDir: 'output directory',
  kernel: 'input "kernel"',
  registryUsername: 'input "registry-username"',
  registryPassword: 'input "registry-password"',
  volumes: 'input "volumes"',
  wait: 'capacity wait',
};

export interface ValidateContext {
  style: OptionStyle;
  cwd?: string;
  hostEnv?: HostEnv;
  /** Host resources, for the limits (default: this host). */
  hostCpus?: number;
  hostMemoryBytes?: number;
}

/**
 * Refuses a path given as an image without its transport, with the fix. A path
 * without a transport (`./image`, `/tmp/bench.tar`, `bench.tar`) would be
 * read as a registry name ("./image" as registry "."): say which transport
 * the thing on disk needs instead.
 */
export function refuseUntypedPath(image: string, cwd: string): void {
  const transport = /^(oci|oci-archive|docker-archive|docker-daemon|docker):/.test(image);
  const pathLike = /^(\.\.?(\/|$)|\/|~)/.test(image);
  const archiveLike = /\.(tar|tar\.gz|tgz|tar\.zst)$/i.test(image);
  if (!transport && (pathLike || archiveLike)) {
    const st = statSync(resolve(cwd, image), { throwIfNoEntry: false });
    if (st?.isDirectory()) {
      throw new VmstepError(`image "${image}" is a directory, not an image name`, `for an OCI layout directory write oci:${image}`);
    }
    if (st) {
      throw new VmstepError(`image "${image}" is a file, not an image name`, `write docker-archive:${image} for the output of docker save, or oci-archive:${image} for an OCI archive`);
    }
    if (pathLike) {
      throw new VmstepError(`image "${image}" looks like a path, and nothing is there`, 'check the path, and name its kind: oci:DIR, oci-archive:FILE or docker-archive:FILE');
    }
  }
}

export function validateRunInput(input: RunInput, ctx: ValidateContext): RunOptions {
  const names = ctx.style === 'cli' ? CLI_NAMES : ACTION_NAMES;
  const name = (k: string) => names[k] ?? k;
  const cwd = ctx.cwd ?? process.cwd();
  const hostEnv = ctx.hostEnv ?? process.env;
  const hostCpus = ctx.hostCpus ?? availableParallelism();
  const hostMemory = ctx.hostMemoryBytes ?? totalmem();

  const image = (input.image ?? '').trim();
  if (image === '') {
    throw new VmstepError(`no image given (${name('image')})`, ctx.style === 'cli' ? 'usage: vmstep run [OPTIONS] IMAGE [COMMAND [ARG...]]' : 'set the "image" input, e.g. image: alpine:3.20');
  }
  refuseUntypedPath(image, cwd);
  try {
    parseReference(image);
  } catch (err) {
    if (err instanceof ImageError) throw new VmstepError(err.message, '', { cause: err });
    throw err;
  }

  const entrypoint = input.entrypoint === undefined ? null : checkStrings(input.entrypoint, name('entrypoint'));
  const command = checkStrings(input.command ?? [], name('command'));

  const env: string[] = [];
  for (const file of input.envFiles ?? []) env.push(...readEnvFile(resolve(cwd, file), hostEnv));
  for (const e of input.env ?? []) {
    const set = parseEnvAssignment(e, name('env'), hostEnv);
    if (set !== null) env.push(set);
  }

  const workdir = optionalString(input.workdir);
  if (workdir !== null && !workdir.startsWith('/')) {
    throw new VmstepError(`${name('workdir')} "${workdir}" is not an absolute path`, 'give an absolute guest path such as /work');
  }
  const user = optionalString(input.user);
  if (user !== null && !/^[^:\s]+(?::[^:\s]+)?$/.test(user)) {
    throw new VmstepError(`${name('user')} "${user}" is not a user`, 'write NAME, UID, NAME:GROUP or UID:GID');
  }

  const vcpus = parseVcpus(input.vcpus, name('vcpus'), hostCpus);
  const memoryMiB = parseMemory(input.memory, name('memory'), hostMemory);
  let diskBytes: number | null = null;
  if (present(input.disk)) {
    diskBytes = parseSize(input.disk!, name('disk'));
    if (diskBytes < LIMITS.minDiskBytes) {
      throw new VmstepError(`${name('disk')} ${formatBytes(diskBytes)} is too small`, `give at least ${formatBytes(LIMITS.minDiskBytes)}, or leave it unset to size the disk from the image`);
    }
  }
  const timeoutMs = present(input.timeout) ? parseDuration(input.timeout!, name('timeout')) : 0;

  const outputs = checkStrings(input.outputs ?? [], name('outputs')).filter((o) => o.trim() !== '');

  let kernel: string | null = null;
  if (present(input.kernel)) {
    kernel = resolve(cwd, String(input.kernel));
    checkReadableFile(kernel, name('kernel'), 'give the path of an uncompressed x86-64 vmlinux (or a .gz of one) built from kernel/guest.config');
  }

  const volumes = parseVolumes(checkStrings(input.volumes ?? [], name('volumes')), input.volumeBase ? resolve(cwd, input.volumeBase) : cwd, name('volumes'));

  const username = optionalString(input.registryUsername);
  const password = input.registryPassword ? input.registryPassword : null;
  if ((username === null) !== (password === null)) {
    const missing = username === null ? name('registryUsername') : name('registryPassword');
    throw new VmstepError(`registry credentials are incomplete: ${missing} is missing`, 'give both the registry user name and the password (or token), or neither for anonymous pulls');
  }

  return {
    image,
    entrypoint,
    command,
    env,
    workdir,
    user,
    vcpus,
    memoryMiB,
    diskBytes,
    timeoutMs,
    outputs,
    outputDir: resolve(cwd, optionalString(input.outputDir) ?? 'vmstep-output'),
    logDir: present(input.logDir) ? resolve(cwd, String(input.logDir)) : null,
    kernel,
    kernelArgs: checkKernelArgs(input.kernelArgs ?? []),
    privileged: Boolean(input.privileged),
    debug: Boolean(input.debug),
    credentials: username !== null && password !== null ? { username, password } : null,
    cacheDir: present(input.cacheDir) ? resolve(cwd, String(input.cacheDir)) : null,
    scratchRoot: present(input.scratchRoot) ? resolve(cwd, String(input.scratchRoot)) : null,
    volumes,
    interactive: Boolean(input.interactive),
    ...(input.wait !== undefined ? { capacityWaitMs: capacityWait(input.wait, name('wait')) } : {}),
  };
}

function present(v: string | number | undefined): boolean {
  return v !== undefined && String(v).trim() !== '';
}

function optionalString(v: string | undefined): string | null {
  return v === undefined || v.trim() === '' ? null : v.trim();
}

function checkStrings(values: string[], what: string): string[] {
  for (const v of values) {
    if (v.includes('\0')) throw new VmstepError(`${what} contains a NUL byte`, 'remove it: a command line cannot hold NUL bytes');
  }
  return values;
}

function parseVcpus(v: string | number | undefined, what: string, hostCpus: number): number {
  if (!present(v)) return Math.max(1, Math.min(2, hostCpus));
  const s = String(v).trim();
  const n = Number(s);
  if (!/^\d+$/.test(s) || n < 1 || n > LIMITS.maxVcpus) {
    throw new VmstepError(`${what} "${s}" is not a vCPU count`, `give a whole number from 1 to ${LIMITS.maxVcpus}`);
  }
  return n;
}

function parseMemory(v: string | number | undefined, what: string, hostMemory: number): number {
  if (!present(v)) return Math.min(LIMITS.defaultMemoryMiB, Math.max(LIMITS.minMemoryMiB, Math.floor(hostMemory / 2 / 2 ** 20)));
  const bytes = parseSize(v!, what);
  // Guest RAM is mapped in whole MiB; a fraction is rounded up so the user gets at least what they asked for.
  const mib = Math.ceil(bytes / 2 ** 20);
  if (mib < LIMITS.minMemoryMiB) {
    const hint = /^\s*\d+\s*$/.test(String(v)) ? ` (a bare number is bytes: did you mean ${String(v).trim()}M?)` : '';
    throw new VmstepError(`${what} ${formatBytes(bytes)} is too small${hint}`, `give at least ${LIMITS.minMemoryMiB}M`);
  }
  if (mib * 2 ** 20 > hostMemory) {
    throw new VmstepError(`${what} ${formatBytes(mib * 2 ** 20)} is more than this host's ${formatBytes(hostMemory)} of memory`, 'give less memory to the VM');
  }
  return mib;
}

function checkReadableFile(path: string, what: string, fix: string): void {
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
    accessSync(path, constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new VmstepError(`${what} ${path} cannot be read (${code ?? (err as Error).message})`, fix);
  }
  if (!isFile) throw new VmstepError(`${what} ${path} is not a file`, fix);
}

function checkKernelArgs(args: string[]): string[] {
  for (const a of args) {
    // One argument per entry: the VMM joins them with spaces into the command line.
    if (a === '' || /[\s\0]/.test(a)) throw new VmstepError(`guest kernel argument "${a}" is empty or holds whitespace`, 'give one argument per entry, such as nokaslr or transparent_hugepage=never');
  }
  return args;
}
