// `vmstep cp`: files and trees into and out of a running VM, with docker
// cp's rules for where they land (a trailing "/." copies a directory's
// contents; an existing directory receives the source under its own name;
// otherwise the destination is the new name). Modes are kept and symbolic
// links copied as links, never followed. What comes out of the guest is
// untrusted: it is written only beneath the destination, through
// directories this copy created or found as real directories, never through
// a symbolic link (the guest's own links are written as links, last).
import { constants, createReadStream } from 'node:fs';
import { chmod, lstat, mkdir, open, readdir, readlink, rm, symlink, utimes } from 'node:fs/promises';
import { basename, dirname, join, posix, resolve } from 'node:path';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { VmstepError } from '../engine/errors.js';
import { readTar } from '../image/tar-reader.js';
import { connectSession, getEntries, listEntries, putEntries, type TransferEntry, type TransferLimits } from '../session/index.js';
import { guestPathComponents } from '../session/outputs.js';
import { lookupVm, markSession, requireRunning, type FoundVm } from './registry.js';
import { vmPaths } from './state.js';
import type { LookupOptions } from './types.js';
import { TarWriter } from './tar-writer.js';

/** What a copy out of the guest may bring: entries and bytes, all together. */
export const COPY_LIMITS: TransferLimits = { maxEntries: 1_000_000, maxBytes: 64 * 2 ** 30 };

export type CopySource = string | Readable;
export type CopyDestination = string | Writable;

async function session<T>(v: FoundVm, fn: (socket: import('node:net').Socket) => Promise<T>): Promise<T> {
  const end = markSession(v);
  try {
    const socket = await connectSession({ kind: 'vmm', udsPath: vmPaths(v.dir).vsock }).catch((err: Error) => {
      throw new VmstepError(`VM ${v.record.name}: ${err.message}`, 'see `vmstep ps -a`');
    });
    try {
      return await fn(socket);
    } finally {
      socket.destroy();
    }
  } finally {
    end();
  }
}

/** What is at a guest path: 'dir', another type, or null when nothing is there. */
async function guestKind(v: FoundVm, guestPath: string): Promise<string | null> {
  if (guestPath === '/') return 'dir';
  try {
    const entries = await session(v, (s) => listEntries(s, guestPath, { limits: { maxEntries: 1, maxBytes: 0 } }));
    return entries[0]?.type ?? null;
  } catch (err) {
    const m = (err as Error).message;
    if (/no such file|not found|ENOENT/i.test(m)) return null;
    // More than one entry: the limit tripped on the second, so the first was a directory.
    if (/more than 1 entries/.test(m)) return 'dir';
    throw err;
  }
}

function checkGuestPath(p: string): string {
  if (!p.startsWith('/')) throw new VmstepError(`guest path "${p}" is not absolute`, 'write VM:/absolute/path');
  return p;
}

/**
 * Copies a host file or tree (or a tar stream) into the VM at guestPath,
 * with docker cp's rules.
 */
export async function copyIntoVm(ref: string, source: CopySource, guestPath: string, opts: LookupOptions = {}): Promise<void> {
  const v = lookupVm(ref, opts.hostEnv);
  requireRunning(v);
  checkGuestPath(guestPath);
  const dest = posix.normalize(guestPath);
  const destIsDirSyntax = guestPath.endsWith('/') || guestPath.endsWith('/.');
  const kind = await guestKind(v, dest);

  if (typeof source !== 'string') {
    if (kind !== 'dir') throw new VmstepError(`the destination ${guestPath} must be an existing directory in the VM to extract a tar stream into`, 'create it first (vmstep exec VM mkdir -p DIR)');
    await session(v, (s) => putEntries(s, dest, tarEntries(source), { user: v.record.exec?.user || undefined }));
    return;
  }
  const st = await lstat(source).catch(() => null);
  if (!st) throw new VmstepError(`cannot copy ${source}: no such file or directory`, 'check the host path');
  const contentsOnly = st.isDirectory() && /(^|\/)\.$/.test(source);
  let parent: string;
  let rootName: string | null;
  if (st.isDirectory()) {
    if (kind !== null && kind !== 'dir') throw new VmstepError(`cannot copy the directory ${source} onto ${guestPath}, which is a ${kind} in the VM`, 'give a directory, or a path that does not exist yet');
    if (kind === 'dir') [parent, rootName] = contentsOnly ? [dest, null] : [dest, basename(resolve(source))];
    else [parent, rootName] = [posix.dirname(dest), posix.basename(dest)];
  } else {
    if (kind === 'dir') [parent, rootName] = [dest, basename(source)];
    else if (destIsDirSyntax) throw new VmstepError(`the destination directory ${guestPath} does not exist in the VM`, 'create it first, or drop the trailing slash to copy to that name');
    else [parent, rootName] = [posix.dirname(dest), posix.basename(dest)];
  }
  await session(v, (s) => putEntries(s, parent, hostEntries(resolve(source), rootName), { user: v.record.exec?.user || undefined }));
}

/** A host file or tree as entries, parents first, links as links; the root named rootName (null: the directory's contents). */
async function* hostEntries(path: string, rootName: string | null): AsyncGenerator<TransferEntry> {
  const walk = async function* (host: string, rel: string): AsyncGenerator<TransferEntry> {
    const st = await lstat(host);
    const mode = st.mode & 0o7777;
    const mtimeNs = BigInt(Math.round(st.mtimeMs)) * 1_000_000n;
    if (st.isDirectory()) {
      if (rel !== '') yield { path: rel, type: 'dir', mode, size: 0, mtimeNs };
      for (const name of (await readdir(host)).sort()) yield* walk(join(host, name), rel === '' ? name : `${rel}/${name}`);
    } else if (st.isSymbolicLink()) {
      yield { path: rel, type: 'symlink', mode, size: 0, linkTarget: await readlink(host), mtimeNs };
    } else if (st.isFile()) {
      yield { path: rel, type: 'file', mode, size: st.size, mtimeNs, ...(st.size > 0 ? { data: createReadStream(host) } : {}) };
    }
    // Sockets, devices and fifos have no meaning in another machine: skipped, as volumes skip them.
  };
  yield* walk(path, rootName ?? '');
}

/** A tar stream as entries (files, directories, symbolic links; hard links and devices are refused). */
async function* tarEntries(stream: Readable): AsyncGenerator<TransferEntry> {
  const queue: { entry: TransferEntry; taken: () => void }[] = [];
  let wake: (() => void) | null = null;
  let done = false;
  let failure: unknown = null;
  const walker = readTar(stream as AsyncIterable<Buffer>, async (e) => {
    const path = e.path.replace(/^\.\//, '').replace(/\/+$/, '');
    if (path === '' || path === '.') return null;
    if (e.type === 'hardlink' || e.type === 'char' || e.type === 'block' || e.type === 'fifo') {
      throw new VmstepError(`the tar stream holds ${e.path}, a ${e.type}, which cp does not copy`, 'give files, directories and symbolic links only');
    }
    const data = e.type === 'file' && e.size > 0 ? new PassThrough({ highWaterMark: 1 << 20 }) : undefined;
    const entry: TransferEntry = { path, type: e.type, mode: e.mode & 0o7777, size: e.type === 'file' ? e.size : 0, ...(e.type === 'symlink' ? { linkTarget: e.linkpath } : {}), ...(data ? { data } : {}) };
    await new Promise<void>((taken) => {
      queue.push({ entry, taken });
      wake?.();
    });
    if (!data) return null;
    let written = 0;
    return async (chunk: Buffer) => {
      written += chunk.length;
      if (!data.write(chunk)) await new Promise((r) => data.once('drain', r));
      if (written === e.size) data.end();
    };
  }).then(
    () => {
      done = true;
      wake?.();
    },
    (err: unknown) => {
      failure = err;
      done = true;
      wake?.();
    },
  );
  for (;;) {
    if (queue.length === 0 && !done) await new Promise<void>((r) => (wake = r));
    wake = null;
    const next = queue.shift();
    if (next) {
      next.taken();
      yield next.entry;
      continue;
    }
    if (done) break;
  }
  await walker;
  if (failure) throw failure instanceof VmstepError ? failure : new VmstepError(`cannot read the tar stream: ${(failure as Error).message}`, 'give a tar archive on stdin');
}

/**
 * Copies a guest file or tree out of the VM to hostPath (docker cp's rules),
 * or as a tar stream to a Writable.
 */
export async function copyFromVm(ref: string, guestPath: string, destination: CopyDestination, opts: LookupOptions = {}): Promise<void> {
  const v = lookupVm(ref, opts.hostEnv);
  requireRunning(v);
  checkGuestPath(guestPath);
  const src = posix.normalize(guestPath);
  const contentsOnly = /(^|\/)\.$/.test(guestPath);

  if (typeof destination !== 'string') {
    const tar = new TarWriter(destination);
    await session(v, async (s) => {
      for await (const e of getEntries(s, src, { limits: COPY_LIMITS })) await tar.add(e);
    });
    await tar.finish();
    return;
  }
  const dest = resolve(destination);
  const destSt = await lstat(dest).catch(() => null);
  const destIsDir = destSt?.isDirectory() ?? false;
  if (destSt?.isSymbolicLink()) throw new VmstepError(`the destination ${destination} is a symbolic link`, 'give a directory or a new path');
  const destDirSyntax = destination.endsWith('/');

  await session(v, async (s) => {
    const writer = new HostTreeWriter();
    let rootType: string | null = null;
    let rootName = '';
    for await (const e of getEntries(s, src, { limits: COPY_LIMITS })) {
      if (rootType === null) {
        rootType = e.type;
        rootName = e.path;
        if (e.type === 'dir') {
          if (destSt && !destIsDir) throw new VmstepError(`cannot copy the directory ${guestPath} onto the file ${destination}`, 'give a directory, or a path that does not exist yet');
          // Into an existing directory under its own name (or its contents with "/."); else it becomes the destination.
          writer.base = destIsDir ? dest : dirname(dest);
          writer.renameRoot = destIsDir ? null : basename(dest);
        } else {
          if (!destSt && destDirSyntax) throw new VmstepError(`the destination directory ${destination} does not exist`, 'create it first, or drop the trailing slash to copy to that name');
          writer.base = destIsDir ? dest : dirname(dest);
          writer.renameRoot = destIsDir ? null : basename(dest);
        }
        const parentSt = await lstat(writer.base).catch(() => null);
        if (!parentSt?.isDirectory()) throw new VmstepError(`the directory ${writer.base} does not exist`, 'create it first');
      }
      await writer.write(e, rootName, contentsOnly && rootType === 'dir' && destIsDir);
    }
    await writer.finish();
  });
}

/** Writes guest entries beneath `base`, never through a link; links and directory modes last. */
class HostTreeWriter {
  base = '';
  /** The name the root entry takes (null: its own). */
  renameRoot: string | null = null;
  private readonly links: { path: string; target: string }[] = [];
  private readonly dirModes: { path: string; mode: number }[] = [];

  /** The host path for an entry; its components are checked as output paths are. */
  private hostPath(entryPath: string, rootName: string, skipRoot: boolean): string | null {
    const parts = guestPathComponents(`/${entryPath}`);
    if (skipRoot) {
      if (parts.length === 1) return null;
      return join(this.base, ...parts.slice(1));
    }
    if (this.renameRoot !== null && parts[0] === rootName) parts[0] = this.renameRoot;
    return join(this.base, ...parts);
  }

  /** Every parent of path beneath base must be a real directory (this copy made it, or it was one). */
  private async checkParents(path: string): Promise<void> {
    let dir = dirname(path);
    const chain: string[] = [];
    while (dir.length > this.base.length) {
      chain.unshift(dir);
      dir = dirname(dir);
    }
    for (const d of chain) {
      const st = await lstat(d).catch(() => null);
      if (!st?.isDirectory()) throw new VmstepError(`refusing to write ${path}: ${d} is not a directory (a link or a file)`, 'copy into an empty destination');
    }
  }

  async write(e: TransferEntry, rootName: string, skipRoot: boolean): Promise<void> {
    const path = this.hostPath(e.path, rootName, skipRoot);
    if (path === null) return;
    await this.checkParents(path);
    const existing = await lstat(path).catch(() => null);
    if (e.type === 'dir') {
      if (existing?.isSymbolicLink() || (existing && !existing.isDirectory())) await rm(path, { force: true });
      if (!existing?.isDirectory()) await mkdir(path, { mode: 0o700 });
      this.dirModes.push({ path, mode: e.mode & 0o777 });
      return;
    }
    if (existing?.isDirectory()) throw new VmstepError(`cannot copy the ${e.type} ${e.path} onto the directory ${path}`, 'remove it, or copy elsewhere');
    if (existing) await rm(path, { force: true });
    if (e.type === 'symlink') {
      // Made last, so no later entry can be written through it.
      this.links.push({ path, target: e.linkTarget ?? '' });
      return;
    }
    const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      if (e.data) for await (const chunk of e.data) await fh.write(chunk as Buffer);
    } finally {
      await fh.close();
    }
    await chmod(path, e.mode & 0o777);
    if (e.mtimeNs !== undefined) {
      const t = Number(e.mtimeNs / 1_000_000n) / 1000;
      await utimes(path, t, t).catch(() => {});
    }
  }

  async finish(): Promise<void> {
    for (const l of this.links) await symlink(l.target, l.path);
    for (const d of this.dirModes.reverse()) await chmod(d.path, d.mode);
  }
}
