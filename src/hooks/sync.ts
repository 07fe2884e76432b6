// Keeping a host tree and its copy in a VM in step without copying
// everything. The host keeps a manifest of the guest tree as it last synced
// it (path -> type, mode, size, mtime, link target). After a step the guest
// LISTs the tree (metadata only); the diff against the manifest names what
// is new or changed (fetched with GET, a new directory as one GET of its
// whole subtree) and what is gone (removed on the host). A step that
// changed nothing costs the listing and the comparison, and no transfer.
// The other direction (host -> VM, for the runner's _temp and _actions)
// works the same way from a walk of the host tree.
import { constants, type BigIntStats } from 'node:fs';
import { chmod, lstat, mkdir, open, readFile, readdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { VmstepError } from '../engine/errors.js';

// The entries are the session's own (the guest's LIST and GET describe trees with them).
import type { EntryMeta, TransferEntry } from '../session/index.js';
export type { EntryMeta, EntryType, TransferEntry } from '../session/index.js';

/** path (relative to the tree's root, never '') -> signature. */
export type Manifest = Map<string, string>;

export function signature(e: EntryMeta): string {
  return `${e.type} ${e.mode & 0o7777} ${e.type === 'file' ? e.size : 0} ${e.mtimeNs ?? ''} ${e.linkTarget ?? ''}`;
}

/**
 * A LIST or GET of guest path /x/NAME names entries NAME, NAME/a, ...; this
 * strips NAME so that paths are relative to the tree's root (the root itself
 * is dropped).
 */
export function relativeToRoot(entries: readonly EntryMeta[]): EntryMeta[] {
  const out: EntryMeta[] = [];
  for (const e of entries) {
    const slash = e.path.indexOf('/');
    if (slash < 0) continue;
    out.push({ ...e, path: e.path.slice(slash + 1) });
  }
  return out;
}

export function manifestOf(entries: readonly EntryMeta[]): Manifest {
  return new Map(entries.map((e) => [e.path, signature(e)]));
}

export interface TreeDiff {
  /** Paths to fetch, top-most only: a new directory is fetched with everything beneath it. */
  fetch: string[];
  /** Paths to remove, top-most only (also entries whose type changed: removed, then fetched). */
  remove: string[];
  /** Every path that the fetches must write (what lies beneath a fetched new directory included). */
  changed: Set<string>;
}

function ancestorIn(path: string, set: Set<string>): boolean {
  for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) if (set.has(path.slice(0, i))) return true;
  return false;
}

/** What differs between the manifest and the tree now (entries parents first, as LIST sends them). */
export function diffTree(previous: Manifest, current: readonly EntryMeta[]): TreeDiff {
  const fetch: string[] = [];
  const remove: string[] = [];
  const changed = new Set<string>();
  const fetchedDirs = new Set<string>();
  const seen = new Set<string>();
  const removed = new Set<string>();
  for (const e of current) {
    seen.add(e.path);
    const before = previous.get(e.path);
    const now = signature(e);
    if (before === now) continue;
    const wasType = before?.split(' ', 1)[0];
    if (e.type === 'dir' && wasType === 'dir') {
      // A directory whose entries changed: its entries say what; a new mode is written by a fetch of the directory alone.
      if (before!.split(' ')[1] === now.split(' ')[1]) continue;
    }
    changed.add(e.path);
    if (ancestorIn(e.path, fetchedDirs)) continue;
    if (before !== undefined && wasType !== e.type) {
      remove.push(e.path);
      removed.add(e.path);
    }
    if (e.type === 'dir' && wasType !== 'dir') fetchedDirs.add(e.path);
    fetch.push(e.path);
  }
  for (const path of previous.keys()) {
    if (seen.has(path)) continue;
    const covered = ancestorIn(path, removed);
    removed.add(path);
    if (!covered) remove.push(path);
  }
  return { fetch, remove, changed };
}

// ---- the manifest on disk

export async function readManifest(path: string): Promise<Manifest> {
  const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (text === null) return new Map();
  return new Map(JSON.parse(text) as [string, string][]);
}

export async function writeManifest(path: string, manifest: Manifest): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, JSON.stringify([...manifest]), { mode: 0o600 });
  await rename(tmp, path);
}

// ---- writing what the guest sends beneath a host root

const MAX_COMPONENT_BYTES = 255;

function components(rel: string): string[] {
  const parts = rel.split('/');
  for (const p of parts) {
    if (p === '' || p === '.' || p === '..' || p.includes('\0') || Buffer.byteLength(p) > MAX_COMPONENT_BYTES) {
      throw new VmstepError(`the VM sent the path ${JSON.stringify(rel.slice(0, 200))}, which is not a plain relative path`, 'nothing was written outside the workspace; check what the step wrote');
    }
  }
  return parts;
}

async function lstatOrNull(path: string) {
  return lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
}

/**
 * The host directory that holds `rel` under root, created as needed: every
 * parent must be a real directory (a link there is replaced, never followed),
 * so nothing the guest names lands outside root.
 */
async function parentDir(root: string, parts: readonly string[]): Promise<string> {
  let dir = root;
  for (const part of parts.slice(0, -1)) {
    dir = join(dir, part);
    const st = await lstatOrNull(dir);
    if (st?.isDirectory()) continue;
    if (st) await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { mode: 0o755 });
  }
  return dir;
}

/** Writes one entry from the guest at root/rel. */
export async function writeEntry(root: string, rel: string, entry: TransferEntry): Promise<void> {
  const parts = components(rel);
  const path = join(await parentDir(root, parts), parts[parts.length - 1]!);
  const st = await lstatOrNull(path);
  const mode = entry.mode & 0o777;
  if (entry.type === 'dir') {
    if (st && !st.isDirectory()) await rm(path, { recursive: true, force: true });
    if (!st || !st.isDirectory()) await mkdir(path, { mode });
    await chmod(path, mode | 0o700);
    return;
  }
  if (st && (st.isDirectory() || entry.type === 'symlink' || !st.isFile())) await rm(path, { recursive: true, force: true });
  if (entry.type === 'symlink') {
    await symlink(entry.linkTarget ?? '', path);
    return;
  }
  const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, mode);
  try {
    if (entry.data) for await (const chunk of entry.data) await fh.write(chunk as Buffer);
    await fh.chmod(mode);
  } finally {
    await fh.close();
  }
}

/** Removes root/rel (a link is removed, never followed). */
export async function removeEntry(root: string, rel: string): Promise<void> {
  const parts = components(rel);
  let dir = root;
  for (const part of parts.slice(0, -1)) {
    dir = join(dir, part);
    const st = await lstatOrNull(dir);
    // Nothing to remove beneath a parent that is gone or is not a real directory.
    if (!st?.isDirectory()) return;
  }
  await rm(join(dir, parts[parts.length - 1]!), { recursive: true, force: true });
}

// ---- walking a host tree for the copy into the VM

export interface HostWalk {
  /** Entries to send (the changed ones and the directories above them), parents first. */
  entries: TransferEntry[];
  manifest: Manifest;
}

/**
 * Walks the host tree at root (never following a link below it) and returns
 * what changed since `previous`, with the directories that lead to it so the
 * guest can create parents first. `skip` leaves out a relative path and
 * everything beneath it. Sockets, fifos and devices are left out.
 */
export async function walkHostTree(root: string, previous: Manifest, skip: (rel: string) => boolean = () => false): Promise<HostWalk> {
  const manifest: Manifest = new Map();
  const all: { meta: EntryMeta; abs: string }[] = [];
  const visit = async (dirAbs: string, dirRel: string) => {
    const names = (await readdir(dirAbs)).sort();
    for (const name of names) {
      const rel = dirRel ? `${dirRel}/${name}` : name;
      if (skip(rel)) continue;
      const abs = join(dirAbs, name);
      const st = (await lstat(abs, { bigint: true }).catch(() => null)) as BigIntStats | null;
      if (!st) continue;
      let meta: EntryMeta;
      if (st.isDirectory()) meta = { path: rel, type: 'dir', mode: Number(st.mode & 0o7777n), size: 0, mtimeNs: st.mtimeNs };
      else if (st.isFile()) meta = { path: rel, type: 'file', mode: Number(st.mode & 0o7777n), size: Number(st.size), mtimeNs: st.mtimeNs };
      else if (st.isSymbolicLink()) {
        meta = { path: rel, type: 'symlink', mode: 0o777, size: 0, linkTarget: await readlink(abs), mtimeNs: st.mtimeNs };
      } else continue;
      manifest.set(rel, signature(meta));
      all.push({ meta, abs });
      if (meta.type === 'dir') await visit(abs, rel);
    }
  };
  const rootSt = await lstatOrNull(root);
  if (rootSt?.isDirectory()) await visit(root, '');
  const wanted = new Set<string>();
  for (const { meta } of all) {
    if (previous.get(meta.path) === manifest.get(meta.path)) continue;
    if (meta.type === 'dir' && previous.get(meta.path)?.startsWith('dir ')) continue;
    wanted.add(meta.path);
    for (let i = meta.path.lastIndexOf('/'); i > 0; i = meta.path.lastIndexOf('/', i - 1)) wanted.add(meta.path.slice(0, i));
  }
  const entries: TransferEntry[] = [];
  for (const { meta, abs } of all) {
    if (!wanted.has(meta.path)) continue;
    entries.push(meta.type === 'file' && meta.size > 0 ? { ...meta, data: lazyFile(abs) } : meta);
  }
  return { entries, manifest };
}

/** A file's bytes, opened only when read (a tree of thousands of files must not hold thousands of descriptors). */
function lazyFile(path: string): Readable {
  return Readable.from(
    (async function* () {
      const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
      try {
        const buf = Buffer.allocUnsafe(1 << 20);
        for (;;) {
          const { bytesRead } = await fh.read(buf, 0, buf.length, null);
          if (bytesRead === 0) return;
          yield Buffer.from(buf.subarray(0, bytesRead));
        }
      } finally {
        await fh.close();
      }
    })(),
    { objectMode: false },
  );
}

/** Relative path `rel` of the tree at guest root `root`. */
export function guestPathOf(root: string, rel: string): string {
  return rel === '' ? root : posix.join(root, rel);
}
