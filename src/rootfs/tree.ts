// The image's filesystem as it builds up, held in memory: layers are applied
// here, in order, with OCI whiteouts and opaque directories, and every entry
// is checked before it may change anything. Nothing here touches the host
// filesystem; file bytes live in the ext4 image being written, and each
// inode only records where.

export type InodeKind = 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo';

export interface Inode {
  kind: InodeKind;
  /** Permission bits including setuid/setgid/sticky (no type bits). */
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  mtimeNsec: number;
  xattrs: Map<string, Buffer>;
  /** Regular files: size and where their blocks start in the image (contiguous). */
  size: number;
  firstBlock: number;
  /** A regular file whose data was not written because a later layer deletes it (see later-layers.ts). */
  unwritten?: boolean;
  symlinkTarget?: Buffer;
  devmajor: number;
  devminor: number;
  /** Assigned when the ext4 image is laid out. */
  ino: number;
  nlink: number;
}

export interface Node {
  inode: Inode;
  /** Directories only. Keys are names as latin1 strings of their bytes. */
  children?: Map<string, Node>;
  /** The last layer that declared this node or anything below it (for opaque dirs and whiteouts). */
  touched: number;
  /** The layer whose entry (or implied parent directory) gave this node its inode. */
  own: number;
}

export class RootfsError extends Error {
  override name = 'RootfsError';
}

const whiteoutPrefix = '.wh.';
const opaqueMarker = '.wh..wh..opq';

export function newInode(kind: InodeKind, init: Partial<Inode> = {}): Inode {
  return { kind, mode: 0o755, uid: 0, gid: 0, mtime: 0, mtimeNsec: 0, xattrs: new Map(), size: 0, firstBlock: 0, devmajor: 0, devminor: 0, ino: 0, nlink: 0, ...init };
}

/** Shows a latin1-held name as the UTF-8 it most likely is, for messages. */
export function showName(s: string): string {
  return Buffer.from(s, 'latin1').toString('utf8');
}

export class FsTree {
  readonly root: Node = { inode: newInode('dir'), children: new Map(), touched: -1, own: -1 };
  private where = '';
  private layer = -1;

  /** Names the layer being applied, for errors ("layer 2 (sha256:...)"). */
  beginLayer(index: number, label: string): void {
    this.layer = index;
    this.where = label;
  }

  fail(entry: string, why: string): never {
    throw new RootfsError(`${this.where}: entry "${showName(entry)}": ${why}; the image is malformed or hostile, so nothing was built`);
  }

  /** Splits an archive path into checked components ("." and empty parts dropped). */
  components(path: string, entry = path): string[] {
    if (path.startsWith('/')) this.fail(entry, 'absolute path');
    const parts: string[] = [];
    for (const p of path.split('/')) {
      if (p === '' || p === '.') continue;
      if (p === '..') this.fail(entry, 'path contains ".." (would escape the root filesystem)');
      if (Buffer.byteLength(p, 'latin1') > 255) this.fail(entry, 'a path component is longer than 255 bytes');
      parts.push(p);
    }
    return parts;
  }

  /**
   * Walks to the directory holding the last component, creating missing
   * parents (layers often omit them) and refusing any parent that is a
   * symlink or not a directory.
   */
  private parentOf(parts: string[], entry: string, create: boolean): Node | undefined {
    let cur = this.root;
    cur.touched = Math.max(cur.touched, this.layer);
    for (let i = 0; i < parts.length - 1; i++) {
      const name = parts[i]!;
      let next = cur.children!.get(name);
      if (!next) {
        if (!create) return undefined;
        next = { inode: newInode('dir'), children: new Map(), touched: this.layer, own: this.layer };
        cur.children!.set(name, next);
      } else if (next.inode.kind === 'symlink') {
        this.fail(entry, `its parent "${showName(parts.slice(0, i + 1).join('/'))}" is a symbolic link (entries under symlinked parents could be written outside the root filesystem)`);
      } else if (next.inode.kind !== 'dir') {
        this.fail(entry, `its parent "${showName(parts.slice(0, i + 1).join('/'))}" is not a directory`);
      }
      if (create) next.touched = Math.max(next.touched, this.layer);
      cur = next;
    }
    return cur;
  }

  /** Looks a path up without following symlinks in any component. */
  lookup(parts: string[]): Node | undefined {
    let cur: Node | undefined = this.root;
    for (const p of parts) {
      if (!cur?.children) return undefined;
      cur = cur.children.get(p);
    }
    return cur;
  }

  /** Applies a whiteout entry; returns true when `path` was one. */
  applyWhiteout(path: string): boolean {
    const parts = this.components(path);
    const base = parts[parts.length - 1];
    if (!base?.startsWith(whiteoutPrefix)) return false;
    const dir = this.parentOf(parts, path, false);
    if (base === opaqueMarker) {
      if (dir) this.pruneOlder(dir);
      return true;
    }
    if (base.startsWith(`${whiteoutPrefix}${whiteoutPrefix}`)) return true; // other AUFS metadata (.wh..wh.plnk): nothing to apply
    const target = base.slice(whiteoutPrefix.length);
    if (target === '' || target === '.' || target === '..') this.fail(path, 'whiteout names no file or escapes its directory');
    const victim = dir?.children?.get(target);
    if (!victim) return true;
    // A whiteout hides what lower layers had, wherever it sits in its own
    // layer (OCI image spec, "Whiteouts"): entries of this layer at or below
    // that name stay whether they came before or after it.
    if (victim.touched < this.layer) dir!.children!.delete(target);
    else if (victim.children) {
      this.pruneOlder(victim);
      // Only this layer's entries below it made it exist: it is their implied parent now.
      if (victim.own < this.layer) {
        victim.inode = newInode('dir');
        victim.own = this.layer;
      }
    }
    return true;
  }

  /** Opaque directory: hide everything lower layers put under it (a loop: nesting depth is the input's). */
  private pruneOlder(top: Node): void {
    const stack: Node[] = [top];
    for (let dir = stack.pop(); dir; dir = stack.pop()) {
      for (const [name, child] of dir.children ?? []) {
        if (child.touched < this.layer) dir.children!.delete(name);
        else if (child.children) stack.push(child);
      }
    }
  }

  /** Adds or replaces the node at `path` with `inode` (directories keep their children). */
  put(path: string, inode: Inode): void {
    const parts = this.components(path);
    if (parts.length === 0) {
      if (inode.kind !== 'dir') this.fail(path, 'the root can only be a directory');
      this.root.inode = { ...inode, kind: 'dir' };
      this.root.touched = this.layer;
      this.root.own = this.layer;
      return;
    }
    const dir = this.parentOf(parts, path, true)!;
    const name = parts[parts.length - 1]!;
    const old = dir.children!.get(name);
    if (inode.kind === 'dir' && old?.children) {
      old.inode = inode;
      old.touched = this.layer;
      old.own = this.layer;
      return;
    }
    dir.children!.set(name, { inode, children: inode.kind === 'dir' ? new Map() : undefined, touched: this.layer, own: this.layer });
  }

  /** A hard link: a second name for an inode already in the tree. */
  link(path: string, target: string): void {
    if (target.startsWith('/')) this.fail(path, `hard link to absolute path "${showName(target)}" (outside the root filesystem)`);
    const tparts = this.components(target, path);
    // The target's parents must be plain directories, as for any entry.
    const tdir = this.parentOf(tparts, path, false);
    const t = tparts.length ? tdir?.children?.get(tparts[tparts.length - 1]!) : this.root;
    if (!t) this.fail(path, `hard link to "${showName(target)}", which no earlier entry created`);
    if (t.inode.kind === 'dir') this.fail(path, `hard link to directory "${showName(target)}"`);
    const parts = this.components(path);
    if (parts.length === 0) this.fail(path, 'hard link at the root');
    const dir = this.parentOf(parts, path, true)!;
    const name = parts[parts.length - 1]!;
    if (dir.children!.get(name) === t) return;
    dir.children!.set(name, { inode: t.inode, touched: this.layer, own: this.layer });
  }
}
