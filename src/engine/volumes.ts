// Volumes as the user writes them (`HOST_PATH:GUEST_PATH`), checked before
// any VM starts: the host path must exist and be readable (a file or a
// directory), the guest path absolute and not one the guest needs for
// itself. Each refusal is one line naming the volume and the fix.
import { accessSync, constants, lstatSync, statSync } from 'node:fs';
import { posix, resolve } from 'node:path';
import { VmstepError } from './errors.js';

/** A checked volume: a copy of hostPath (file or directory) appears at guestPath in the guest. */
export interface Volume {
  /** Absolute host path, as the user named it (a symlink given here is followed: the user chose it). */
  hostPath: string;
  /** Absolute, normalised guest path. */
  guestPath: string;
  kind: 'dir' | 'file';
}

/** Guest paths a volume may not replace or lie under: the guest's own pseudo filesystems, its root, and guest init's home. */
const RESERVED = ['/proc', '/sys', '/dev', '/.vmstep'];

/**
 * Parses and checks `HOST_PATH:GUEST_PATH` entries. The guest path is what
 * follows the last `:` (a host path may hold colons, a guest path may not);
 * relative host paths resolve against baseDir. `what` names the option in
 * messages (`--volume`, input "volumes").
 */
export function parseVolumes(entries: readonly string[], baseDir: string, what: string): Volume[] {
  const volumes: Volume[] = [];
  for (const raw of entries) {
    const entry = raw.trim();
    if (entry === '') continue;
    const v = parseVolume(entry, baseDir, what);
    const clash = volumes.find((o) => o.guestPath === v.guestPath);
    if (clash) throw new VmstepError(`${what} "${entry}": ${v.guestPath} is already the guest path of ${clash.hostPath}`, 'give each volume its own guest path');
    volumes.push(v);
  }
  return volumes;
}

function parseVolume(entry: string, baseDir: string, what: string): Volume {
  const colon = entry.lastIndexOf(':');
  const usage = 'write HOST_PATH:GUEST_PATH, e.g. .:/src';
  if (entry.includes('\0')) throw new VmstepError(`${what} "${entry.replace(/\0/g, '\\0')}" contains a NUL byte`, usage);
  if (colon <= 0 || colon === entry.length - 1) throw new VmstepError(`${what} "${entry}" is not HOST_PATH:GUEST_PATH`, usage);
  const host = entry.slice(0, colon);
  const guest = entry.slice(colon + 1);
  if (!guest.startsWith('/')) throw new VmstepError(`${what} "${entry}": the guest path "${guest}" is not absolute`, 'give an absolute guest path such as /src');
  if (guest.split('/').includes('..')) throw new VmstepError(`${what} "${entry}": the guest path "${guest}" contains ".."`, 'give the guest path without ".." components');
  const guestPath = posix.normalize(guest).replace(/(.)\/+$/, '$1');
  if (guestPath === '/') throw new VmstepError(`${what} "${entry}": a volume cannot replace the guest's root /`, 'mount it at a directory such as /src');
  const reserved = RESERVED.find((r) => guestPath === r || guestPath.startsWith(`${r}/`));
  if (reserved) throw new VmstepError(`${what} "${entry}": a volume cannot replace or go under ${reserved}, which the guest needs for itself`, 'mount it at a directory such as /src');

  const hostPath = resolve(baseDir, host);
  let kind: Volume['kind'];
  try {
    const st = statSync(hostPath);
    if (st.isDirectory()) kind = 'dir';
    else if (st.isFile()) kind = 'file';
    else throw new VmstepError(`${what} "${entry}": the host path ${hostPath} is neither a file nor a directory`, 'give a file or a directory to copy into the guest');
    accessSync(hostPath, kind === 'dir' ? constants.R_OK | constants.X_OK : constants.R_OK);
  } catch (err) {
    if (err instanceof VmstepError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      const dangling = lstatOk(hostPath) ? ' (a symbolic link to nothing)' : '';
      throw new VmstepError(`${what} "${entry}": the host path ${hostPath} does not exist${dangling}`, `check the path; relative paths start at ${baseDir}`);
    }
    throw new VmstepError(`${what} "${entry}": the host path ${hostPath} cannot be read (${code ?? (err as Error).message})`, 'give this user read access to it');
  }
  return { hostPath, guestPath, kind };
}

function lstatOk(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Guest mount order: a volume inside another is mounted after it (fewer components first, stable otherwise). */
export function mountOrder<T extends { guestPath: string }>(volumes: readonly T[]): T[] {
  const depth = (p: string) => p.split('/').length;
  return [...volumes].sort((a, b) => depth(a.guestPath) - depth(b.guestPath));
}
