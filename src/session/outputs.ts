// Where returned files land on the host. The guest names each file by its
// absolute guest path; it is written at that path under the output directory.
// The guest is untrusted, so a path must be absolute and normalised (no "",
// "." or ".." components, no NUL), every parent is a real directory (never a
// symbolic link), and the file itself is opened without following links:
// nothing a guest sends can write outside the output directory.
import { constants } from 'node:fs';
import { chmod, lstat, mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ProtocolError } from './protocol.js';

const MAX_PATH_BYTES = 4096;
const MAX_NAME_BYTES = 255;

/** The path's components, or a ProtocolError saying why the guest's path is refused. */
export function guestPathComponents(guestPath: string): string[] {
  const refuse = (why: string) => new ProtocolError(`the guest sent the output path ${JSON.stringify(guestPath)}, which ${why}; refusing to write it`);
  if (!guestPath.startsWith('/')) throw refuse('is not absolute');
  if (Buffer.byteLength(guestPath) > MAX_PATH_BYTES) throw refuse(`is longer than ${MAX_PATH_BYTES} bytes`);
  if (guestPath.includes('\0')) throw refuse('contains a NUL byte');
  const parts = guestPath.slice(1).split('/');
  for (const p of parts) {
    if (p === '' || p === '.' || p === '..') throw refuse('is not normalised (empty, "." or ".." component)');
    if (Buffer.byteLength(p) > MAX_NAME_BYTES) throw refuse(`has a component longer than ${MAX_NAME_BYTES} bytes`);
  }
  return parts;
}

export interface OpenOutputFile {
  hostPath: string;
  handle: FileHandle;
}

export class OutputDirectory {
  constructor(readonly root: string) {}

  /** The host path a guest path is written to (checked, not created). */
  hostPathFor(guestPath: string): string {
    return join(this.root, ...guestPathComponents(guestPath));
  }

  /** Creates the parents and opens the file for writing, truncating an earlier run's copy. */
  async create(guestPath: string): Promise<OpenOutputFile> {
    const parts = guestPathComponents(guestPath);
    await mkdir(this.root, { recursive: true });
    let dir = this.root;
    for (const part of parts.slice(0, -1)) {
      dir = join(dir, part);
      const st = await lstat(dir).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return null;
        throw err;
      });
      if (st === null) await mkdir(dir, { mode: 0o755 });
      else if (!st.isDirectory()) {
        throw new ProtocolError(`cannot write the output file ${guestPath}: ${dir} exists and is not a directory (a symbolic link or a file)`);
      }
    }
    const hostPath = join(dir, parts[parts.length - 1]!);
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
    try {
      return { hostPath, handle: await open(hostPath, flags, 0o600) };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ELOOP' || code === 'EISDIR') {
        throw new ProtocolError(`cannot write the output file ${guestPath}: ${hostPath} is a ${code === 'ELOOP' ? 'symbolic link' : 'directory'}`);
      }
      throw err;
    }
  }

  /** Applies the guest's permission bits (without setuid, setgid or sticky) once the file is complete. */
  async finish(file: OpenOutputFile, mode: number): Promise<void> {
    await file.handle.close();
    await chmod(file.hostPath, mode & 0o777);
  }

  /** Removes a partly written file. */
  async discard(file: OpenOutputFile): Promise<void> {
    await file.handle.close().catch(() => {});
    await rm(file.hostPath, { force: true });
  }
}
