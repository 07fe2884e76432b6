// What to run, resolved on the host with Docker's semantics, as pure
// functions: the command line from the image's ENTRYPOINT and CMD and the
// user's overrides, the environment from the image's Env and the user's
// variables, the working directory and the user. Guest init runs the result
// as given; only the lookup of argv[0] in PATH and a missing HOME are its own.
import type { RunSpec } from './messages.js';

/** Docker's PATH when the image sets none (also what guest init searches then). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The parts of an OCI image config (`config` in the image's config JSON) that shape the command. */
export interface ImageCommandConfig {
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Env?: string[] | null;
  WorkingDir?: string | null;
  User?: string | null;
}

export interface CommandOverrides {
  /**
   * Replaces the image's ENTRYPOINT (`docker run --entrypoint`); `[]` clears
   * it (`--entrypoint ''`). Either way the image's CMD is dropped, as Docker does.
   */
  entrypoint?: string[];
  /** Replaces the image's CMD (the arguments after the image in `docker run IMAGE ARG...`). Empty means "not given". */
  cmd?: string[];
}

/** ENTRYPOINT + CMD with overrides, as `docker run` combines them. */
export function resolveArgv(image: ImageCommandConfig, overrides: CommandOverrides = {}): string[] {
  const entrypoint = overrides.entrypoint ?? image.Entrypoint ?? [];
  const cmdGiven = overrides.cmd !== undefined && overrides.cmd.length > 0;
  const cmd = cmdGiven ? overrides.cmd! : overrides.entrypoint !== undefined ? [] : (image.Cmd ?? []);
  const argv = [...entrypoint, ...cmd];
  if (argv.length === 0 || argv[0] === '') {
    throw new Error(
      overrides.entrypoint !== undefined
        ? 'no command to run: the entrypoint was cleared and no command was given'
        : 'no command to run: the image has neither ENTRYPOINT nor CMD; give a command',
    );
  }
  return argv;
}

function envName(entry: string, what: string): string {
  const eq = entry.indexOf('=');
  const name = eq < 0 ? entry : entry.slice(0, eq);
  if (name === '' || name.includes('\0') || entry.includes('\0')) throw new Error(`${what} ${JSON.stringify(entry)} is not a valid NAME=value entry`);
  return name;
}

/**
 * The image's Env, then the overrides: an override replaces the image's value
 * in place, new names are appended in order. PATH defaults to Docker's, and
 * HOSTNAME is set when a hostname is given and the environment lacks it.
 */
export function mergeEnv(
  imageEnv: readonly string[] | null | undefined,
  overrides: Readonly<Record<string, string>> | readonly string[] = {},
  options: { hostname?: string } = {},
): string[] {
  const merged = new Map<string, string>();
  for (const entry of imageEnv ?? []) {
    const name = envName(entry, 'the image environment entry');
    // An Env entry without '=' is malformed in an image config; Docker keeps it as an empty value.
    merged.set(name, entry.includes('=') ? entry.slice(name.length + 1) : '');
  }
  const pairs: [string, string][] = Array.isArray(overrides)
    ? (overrides as readonly string[]).map((e) => {
        const name = envName(e, 'the environment variable');
        if (!e.includes('=')) throw new Error(`the environment variable ${JSON.stringify(e)} has no '=': write NAME=value`);
        return [name, e.slice(name.length + 1)];
      })
    : Object.entries(overrides as Record<string, string>).map(([k, v]) => [envName(`${k}=${v}`, 'the environment variable'), v]);
  for (const [k, v] of pairs) merged.set(k, v);
  if (!merged.has('PATH')) merged.set('PATH', DEFAULT_PATH);
  if (options.hostname && !merged.has('HOSTNAME')) merged.set('HOSTNAME', options.hostname);
  return [...merged].map(([k, v]) => `${k}=${v}`);
}

/** The image's WorkingDir unless overridden; `/` when neither is set. Must be absolute, as Docker requires. */
export function resolveWorkdir(image: ImageCommandConfig, override?: string): string {
  const dir = override || image.WorkingDir || '/';
  if (!dir.startsWith('/')) throw new Error(`the working directory '${dir}' is invalid: it needs to be an absolute path`);
  return dir;
}

/** The image's User unless overridden; '' (root) when neither is set. */
export function resolveUser(image: ImageCommandConfig, override?: string): string {
  return override || image.User || '';
}

/** The spec's settings, as the user gives them: argv comes from the image and the overrides, env is merged onto the image's. */
export interface CommandOptions extends CommandOverrides, Omit<Partial<RunSpec>, 'argv' | 'env'> {
  /** Variables to set on top of the image's Env. */
  env?: Readonly<Record<string, string>> | readonly string[];
}

/** The run spec for an image config and the user's options. */
export function runSpecFromImage(image: ImageCommandConfig, options: CommandOptions = {}): RunSpec {
  const hostname = options.hostname ?? 'vmstep';
  const spec: RunSpec = {
    argv: resolveArgv(image, options),
    env: mergeEnv(image.Env, options.env, { hostname }),
    workdir: resolveWorkdir(image, options.workdir),
    user: resolveUser(image, options.user),
    hostname,
    outputs: options.outputs ?? [],
    privileged: options.privileged ?? false,
  };
  if (options.maxFileBytes !== undefined) spec.maxFileBytes = options.maxFileBytes;
  if (options.maxFiles !== undefined) spec.maxFiles = options.maxFiles;
  return spec;
}
