// Environment variables for the command, with docker run's semantics:
// `NAME=value` sets (the value is taken literally, quotes included),
// a bare `NAME` passes the host's value through when the host has one, and
// in files blank lines and lines starting with `#` are skipped. The action's
// multi-line `env` input is read with the same rules as `--env-file`.
import { readFileSync } from 'node:fs';
import { VmstepError } from './errors.js';

export type HostEnv = Record<string, string | undefined>;

/** One `-e` argument (or one line); returns `NAME=value`, or null when a bare NAME is unset on the host. */
export function parseEnvAssignment(text: string, where: string, hostEnv: HostEnv = process.env): string | null {
  const eq = text.indexOf('=');
  const name = eq < 0 ? text : text.slice(0, eq);
  checkName(name, text, where);
  if (eq >= 0) return text;
  const value = hostEnv[name];
  return value === undefined ? null : `${name}=${value}`;
}

function checkName(name: string, text: string, where: string): void {
  if (name === '') {
    throw new VmstepError(`${where}: "${text}" has no variable name`, 'write NAME=value');
  }
  if (/\s/.test(name)) {
    throw new VmstepError(`${where}: variable name "${name}" contains whitespace`, 'write NAME=value with no spaces around the name');
  }
  if (name.includes('\0') || text.includes('\0')) {
    throw new VmstepError(`${where}: "${name}" contains a NUL byte`, 'remove the NUL byte; environment strings cannot hold one');
  }
}

/** Lines of an env file or of the action's `env` input. */
export function parseEnvLines(text: string, where: string, hostEnv: HostEnv = process.env): string[] {
  const out: string[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) return;
    const set = parseEnvAssignment(line, `${where} line ${i + 1}`, hostEnv);
    if (set !== null) out.push(set);
  });
  return out;
}

export function readEnvFile(path: string, hostEnv: HostEnv = process.env): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new VmstepError(
      `cannot read env file ${path} (${code ?? (err as Error).message})`,
      code === 'ENOENT' ? 'check the path given to --env-file' : 'make the file readable by this user',
    );
  }
  return parseEnvLines(text, path, hostEnv);
}
