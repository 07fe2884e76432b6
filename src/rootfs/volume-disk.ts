// Host trees -> one ext4 image: the disk that carries a run's volumes into
// the guest. Each volume becomes an entry at the image's root (named by the
// caller, e.g. "0", "1"), which guest init bind-mounts at the volume's guest
// path. The copy keeps modes, hard links (within a volume), symbolic links as
// links, empty directories and names of any bytes; everything belongs to
// root here, and guest init gives it to the run's user.
//
// The walk never follows a symbolic link below a volume's root and never
// reads outside it: entries are lstat'ed, files are opened with O_NOFOLLOW
// and checked to be the very inode that was walked, and a directory that
// changes identity while it is listed is refused. Sockets, devices and fifos
// cannot be copied meaningfully: they are skipped and reported.
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, readdirSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { Ext4Writer } from './ext4-writer.js';
import { FsTree, RootfsError, newInode, type Inode, type Node } from './tree.js';

export interface VolumeSource {
  /** The entry at the image's root: one path component. */
  name: string;
  /** Absolute host path of a directory or file; the path itself may be a symlink (the user chose it), nothing below it is followed. */
  hostPath: string;
}

export interface VolumeDiskOptions {
  /** Free space left in the image for what the command writes into its volumes (sparse: unused space costs nothing). */
  headroomBytes: number;
  /** Upper bound on the sum of file sizes (default 64 GiB). */
  maxContentBytes?: number;
}

export interface VolumeDiskResult {
  /** Size of the image file (sparse). */
  bytes: number;
  /** Entries copied (files, directories, symlinks), over all volumes. */
  entries: number;
  /** Bytes of file content copied. */
  contentBytes: number;
  /** Host paths skipped because they are sockets, devices or fifos. */
  skipped: string[];
}

const READ_CHUNK = 1 << 20;
const DEFAULT_MAX_CONTENT_BYTES = 64 * 2 ** 30;

/** Writes the volumes' trees into a new ext4 image at outPath (created exclusively; removed on failure). */
export async function buildVolumeDisk(sources: readonly VolumeSource[], outPath: string, opts: VolumeDiskOptions): Promise<VolumeDiskResult> {
  const fh = await open(outPath, 'wx');
  let ok = false;
  try {
    const writer = new Ext4Writer(fh);
    const copier = new TreeCopier(writer, opts.maxContentBytes ?? DEFAULT_MAX_CONTENT_BYTES);
    const tree = new FsTree();
    tree.root.inode.mode = 0o755;
    for (const s of sources) {
      if (!/^[^/\0]+$/.test(s.name) || s.name === '.' || s.name === '..') throw new RootfsError(`volume name "${s.name}" is not one path component`);
      tree.root.children!.set(s.name, await copier.copyRoot(s.hostPath));
    }
    const result = await writer.finish(tree, { headroomBytes: opts.headroomBytes, time: Math.floor(Date.now() / 1000) });
    ok = true;
    return { bytes: result.bytes, entries: copier.entries, contentBytes: copier.contentBytes, skipped: copier.skipped };
  } finally {
    await fh.close();
    if (!ok) await rm(outPath, { force: true });
  }
}

class TreeCopier {
  entries = 0;
  contentBytes = 0;
  readonly skipped: string[] = [];
  private readonly buf = Buffer.allocUnsafe(READ_CHUNK);
  /** Hard links within the volume being copied: host (dev, ino) -> its inode in the image. */
  private links = new Map<string, Inode>();

  constructor(
    private readonly writer: Ext4Writer,
    private readonly maxContentBytes: number,
  ) {}

  async copyRoot(hostPath: string): Promise<Node> {
    this.links = new Map();
    const st = statSync(hostPath);
    const path = Buffer.from(hostPath);
    if (st.isDirectory()) return this.copyDir(path, st);
    if (st.isFile()) return { inode: await this.copyFile(path, st), touched: 0, own: 0 };
    throw new RootfsError(`volume ${hostPath} is neither a file nor a directory`);
  }

  private async copyDir(path: Buffer, st: Stats): Promise<Node> {
    this.entries++;
    const node: Node = { inode: newInode('dir', common(st)), children: new Map(), touched: 0, own: 0 };
    let names: Buffer[];
    try {
      names = readdirSync(path, { encoding: 'buffer' });
    } catch (err) {
      throw unreadable(path, err);
    }
    // readdir follows a path that became a symlink since the lstat: refuse rather than copy what it points at.
    const after = lstatSafe(path);
    if (!after?.isDirectory() || after.ino !== st.ino || after.dev !== st.dev) {
      throw new RootfsError(`volume directory ${show(path)} changed while it was copied; copy a tree that nothing is writing to`);
    }
    for (const name of names) {
      const child = Buffer.concat([path, SLASH, name]);
      const cst = lstatSafe(child);
      if (!cst) continue; // removed since the listing: it is simply not part of the copy
      const key = name.toString('latin1');
      if (cst.isDirectory()) node.children!.set(key, await this.copyDir(child, cst));
      else if (cst.isFile()) node.children!.set(key, { inode: await this.copyFile(child, cst), touched: 0, own: 0 });
      else if (cst.isSymbolicLink()) node.children!.set(key, { inode: this.copySymlink(child, cst), touched: 0, own: 0 });
      else this.skipped.push(show(child));
    }
    return node;
  }

  private copySymlink(path: Buffer, st: Stats): Inode {
    this.entries++;
    let target: Buffer;
    try {
      target = readlinkSync(path, { encoding: 'buffer' });
    } catch (err) {
      throw unreadable(path, err);
    }
    if (target.length === 0 || target.length >= 4096) throw new RootfsError(`symbolic link ${show(path)}: its target is empty or longer than 4095 bytes`);
    return newInode('symlink', { ...common(st), mode: 0o777, symlinkTarget: target });
  }

  private async copyFile(path: Buffer, st: Stats): Promise<Inode> {
    const key = `${st.dev}:${st.ino}`;
    if (st.nlink > 1) {
      const linked = this.links.get(key);
      if (linked) return linked;
    }
    this.entries++;
    const inode = newInode('file', { ...common(st), size: st.size });
    if (st.nlink > 1) this.links.set(key, inode);
    let fd: number;
    try {
      // O_NONBLOCK: a fifo swapped in for the file cannot hang the open (and is refused below).
      fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      throw unreadable(path, err);
    }
    try {
      const now = fstatSync(fd);
      if (!now.isFile() || now.ino !== st.ino || now.dev !== st.dev) {
        throw new RootfsError(`volume file ${show(path)} changed while it was copied; copy a tree that nothing is writing to`);
      }
      if (st.size === 0) return inode;
      this.contentBytes += st.size;
      if (this.contentBytes > this.maxContentBytes) {
        throw new RootfsError(`volume file ${show(path)}: the volumes' files add up to more than ${this.maxContentBytes} bytes (the limit for a volume disk)`);
      }
      const { firstBlock, sink } = this.writer.beginFile(st.size);
      inode.firstBlock = firstBlock;
      let left = st.size;
      while (left > 0) {
        const n = readSync(fd, this.buf, 0, Math.min(READ_CHUNK, left), null);
        if (n === 0) throw new RootfsError(`volume file ${show(path)} shrank while it was copied; copy a tree that nothing is writing to`);
        left -= n;
        await sink(this.buf.subarray(0, n));
      }
      return inode;
    } catch (err) {
      if (err instanceof RootfsError) throw err;
      throw unreadable(path, err);
    } finally {
      closeSync(fd);
    }
  }
}

const SLASH = Buffer.from('/');

function common(st: Stats): Partial<Inode> {
  const sec = Math.floor(st.mtimeMs / 1000);
  return { mode: st.mode & 0o7777, uid: 0, gid: 0, mtime: sec, mtimeNsec: Math.max(0, Math.min(999_999_999, Math.round((st.mtimeMs - sec * 1000) * 1e6))) };
}

function lstatSafe(path: Buffer): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

function show(path: Buffer): string {
  return path.toString('utf8');
}

function unreadable(path: Buffer, err: unknown): RootfsError {
  const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  return new RootfsError(`cannot copy ${show(path)} into the volume (${code}); give this user read access to it, or leave it out of the volume`);
}
