// Image -> ext4 file: applies the layers in order to an in-memory tree while
// their file bytes stream into the image, adds the guest init at
// /.vmstep/init, then writes the metadata. Knows nothing of where the image
// came from (see ../image) nor of caching (see cache.ts).
import { createReadStream } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import { openLayerTar } from '../image/decompress.js';
import { TarFormatError } from '../image/tar-header.js';
import { ImageError, type Image } from '../image/types.js';
import { Ext4Writer, type Ext4Result, type LayoutOptions } from './ext4-writer.js';
import { readTar, type TarEntry } from '../image/tar-reader.js';
import { ACL_XATTRS, BLOCK_SIZE, INODE_XATTR_ROOM, MAX_TIME, MIN_TIME, blockXattrSpace, inodeXattrSpace, posixAclToExt4, splitXattrName, type XattrEntry } from './ext4-format.js';
import { LaterLayers } from './later-layers.js';
import { FsTree, RootfsError, newInode, showName, type Node } from './tree.js';
import { GUEST_INIT_PATH } from '../vm/cmdline.js';

/** Bumped whenever the image layout this code writes changes; part of the cache key. */
export const BUILDER_VERSION = 2;
// The path the kernel command line names (src/vm/cmdline.ts): one constant for both.
export { GUEST_INIT_PATH };

export interface BuildOptions extends LayoutOptions {
  /** The guest init binary placed at /.vmstep/init (root-owned, 0755). */
  initPath: string;
  /** Output file; must not exist (it is created exclusively). */
  outPath: string;
  /** Upper bound on the sum of file sizes (default 64 GiB). */
  maxContentBytes?: number;
  /** Upper bound on tar entries over all layers (default 4 million). */
  maxEntries?: number;
  onLayer?: (index: number, count: number, digest: string) => void;
  /** Stops the build (Ctrl-C): it rejects with BuildCancelledError and leaves nothing behind. */
  signal?: AbortSignal;
  /** Told, once per kind, what the image held that ext4 cannot and how it was changed (clamped times, dropped attributes). */
  onWarning?: (message: string) => void;
}

/** What a build changed because ext4 cannot hold it: counted, and reported once per kind. */
class BuildNotes {
  private readonly seen = new Map<string, { first: string; count: number }>();
  note(kind: string, first: string): void {
    const n = this.seen.get(kind);
    if (n) n.count++;
    else this.seen.set(kind, { first, count: 1 });
  }
  report(onWarning: ((message: string) => void) | undefined): void {
    for (const [kind, { first, count }] of this.seen) onWarning?.(`${kind}: ${first}${count > 1 ? ` and ${count - 1} more` : ''}`);
  }
}

const maxUid = 2 ** 32 - 1;
const defaultMaxContentBytes = 64 * 2 ** 30;
const defaultMaxEntries = 4_000_000;

/** The build was stopped through its signal. */
export class BuildCancelledError extends RootfsError {
  override name = 'BuildCancelledError';
  constructor() {
    super('building the root filesystem was cancelled');
  }
}

/**
 * A failed write as one line naming the file and the fix (a full disk is
 * the usual cause: the image is as large as the image's files).
 */
export function writeFailure(e: unknown, path: string): unknown {
  const err = e as NodeJS.ErrnoException;
  if (e instanceof RootfsError || e instanceof ImageError || typeof err?.code !== 'string') return e;
  const why: Record<string, string> = {
    ENOSPC: 'no space left on the device',
    EDQUOT: 'the disk quota is exhausted',
    EFBIG: 'the file is larger than this file system or the process limit allows',
    EIO: 'an I/O error',
    EROFS: 'the file system is read-only',
  };
  const reason = why[err.code];
  if (!reason) return e;
  return new RootfsError(`writing ${path} failed: ${reason} (${err.code}); free space there (vmstep cache prune) or point VMSTEP_CACHE at a larger disk`);
}

/** A file whose data was skipped survived to the final tree (kept alive by a hard link): build again writing everything. */
class SkippedDataSurvived extends Error {}

export async function buildRootfsImage(image: Image, opts: BuildOptions): Promise<Ext4Result> {
  try {
    try {
      return await buildInto(image, opts, true);
    } catch (e) {
      if (!(e instanceof SkippedDataSurvived)) throw e;
      return await buildInto(image, opts, false);
    }
  } catch (e) {
    throw opts.signal?.aborted ? new BuildCancelledError() : writeFailure(e, opts.outPath);
  }
}

/**
 * Reads the layers above the first for their entries alone, to learn which
 * lower files they delete or replace. Best effort: whatever goes wrong here
 * (a malformed or oversized layer) only means nothing is skipped; the build
 * itself then reports it.
 */
async function scanLaterLayers(image: Image, opts: BuildOptions): Promise<LaterLayers | undefined> {
  if (image.layers.length < 2) return undefined;
  const later = new LaterLayers();
  let entries = 0;
  let content = 0;
  const maxEntries = opts.maxEntries ?? defaultMaxEntries;
  const maxContent = opts.maxContentBytes ?? defaultMaxContentBytes;
  try {
    for (let i = 1; i < image.layers.length; i++) {
      const layerTar = await openLayerTar(await image.layers[i]!.open(), { what: `layer ${i + 1}`, ...(opts.signal ? { signal: opts.signal } : {}) });
      try {
        await readTar(layerTar.tar, (e) => {
          content += e.size;
          if (++entries > maxEntries || content > maxContent) throw new Error('too large to scan');
          later.add(i, e.path, e.type === 'dir');
          return null;
        });
      } finally {
        layerTar.destroy();
      }
    }
  } catch {
    opts.signal?.throwIfAborted();
    return undefined;
  }
  return later;
}

/** True when a file whose data was not written is still in the tree. */
function hasUnwritten(root: Node): boolean {
  const stack: Node[] = [root];
  for (let n = stack.pop(); n; n = stack.pop()) {
    if (n.inode.unwritten) return true;
    if (n.children) for (const c of n.children.values()) stack.push(c);
  }
  return false;
}

async function buildInto(image: Image, opts: BuildOptions, skipDeleted: boolean): Promise<Ext4Result> {
  const initStat = await stat(opts.initPath).catch(() => null);
  if (!initStat?.isFile()) throw new RootfsError(`guest init ${opts.initPath} does not exist or is not a file; build it (npm run build) or set VMSTEP_INIT`);
  const fh = await open(opts.outPath, 'wx');
  let ok = false;
  try {
    const writer = new Ext4Writer(fh);
    const tree = new FsTree();
    let entries = 0;
    const maxEntries = opts.maxEntries ?? defaultMaxEntries;
    const notes = new BuildNotes();
    const maxContent = opts.maxContentBytes ?? defaultMaxContentBytes;
    const budget = { left: maxContent, max: maxContent };
    // Registry layers download (three at a time) while earlier ones are applied;
    // a failed prefetch is retried, and reported, by the layer's open().
    void prefetchAll(image, 3);
    const later = skipDeleted ? await scanLaterLayers(image, opts) : undefined;
    for (const [i, layer] of image.layers.entries()) {
      opts.onLayer?.(i, image.layers.length, layer.digest);
      const label = `layer ${i + 1} of ${image.layers.length} (${layer.digest})`;
      tree.beginLayer(i, label);
      opts.signal?.throwIfAborted();
      const layerTar = await openLayerTar(await layer.open(), {
        what: label,
        diffId: layer.diffId,
        diffIdSource: `rootfs.diff_ids[${i}]`,
        blobDigest: layer.digest,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      try {
        await readTar(layerTar.tar, (e) => {
          // Each entry costs memory in the tree: bound it like the content size.
          if (++entries > maxEntries) tree.fail(e.path, `more than ${maxEntries} entries in the image; is it a hostile archive?`);
          return applyEntry(tree, writer, e, { notes, budget, label, layer: i, later });
        });
        // Nothing built from a layer counts until every byte of its blob was checked.
        await layerTar.finish();
      } catch (e) {
        // A changed blob usually breaks its tar too: its digest mismatch is the cause to report.
        await layerTar.checkBlob().catch((digestError: unknown) => {
          if (digestError instanceof ImageError) throw digestError;
        });
        if (e instanceof RootfsError || e instanceof ImageError) throw e;
        const written = writeFailure(e, opts.outPath);
        if (written !== e) throw written;
        if (e instanceof TarFormatError) throw new RootfsError(`${label}: not a valid tar stream: ${e.message}`);
        throw new RootfsError(`${label}: cannot be read: ${(e as Error).message}`);
      } finally {
        layerTar.destroy();
      }
    }
    if (later && hasUnwritten(tree.root)) throw new SkippedDataSurvived();
    // The init goes in last so that no image can replace or shadow it.
    tree.beginLayer(image.layers.length, 'vmstep guest init');
    tree.root.children!.delete('.vmstep');
    tree.put('.vmstep', newInode('dir', { mode: 0o755 }));
    const init = newInode('file', { mode: 0o755, size: initStat.size });
    tree.put(GUEST_INIT_PATH.slice(1), init);
    const { firstBlock, sink } = writer.beginFile(initStat.size);
    init.firstBlock = firstBlock;
    for await (const chunk of createReadStream(opts.initPath)) await sink(chunk as Buffer);
    const result = await writer.finish(tree, opts);
    notes.report(opts.onWarning);
    ok = true;
    return result;
  } finally {
    await fh.close();
    if (!ok) await rm(opts.outPath, { force: true });
  }
}

async function prefetchAll(image: Image, parallel: number): Promise<void> {
  const queue = image.layers.filter((l) => l.prefetch);
  const worker = async (): Promise<void> => {
    for (let l = queue.shift(); l; l = queue.shift()) await l.prefetch!().catch(() => {});
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

interface EntryContext {
  notes: BuildNotes;
  /** Bytes of file content the image may still add (a decompression bomb stops here). */
  budget: { left: number; max: number };
  label: string;
  layer: number;
  /** What later layers delete, when known: such files' data is not written. */
  later: LaterLayers | undefined;
}

/** The entry's xattrs as ext4 will hold them, each checked against ext4's limits. */
function ext4Xattrs(tree: FsTree, e: TarEntry, ctx: EntryContext): Map<string, Buffer> {
  if (e.xattrs.size === 0) return e.xattrs;
  const out = new Map<string, Buffer>();
  const sized: XattrEntry[] = [];
  for (const [name, raw] of e.xattrs) {
    const split = splitXattrName(name);
    if (!split) {
      ctx.notes.note('extended attributes ext4 cannot hold were left out', `${JSON.stringify(showName(name).slice(0, 64))} on "${showName(e.path)}" in ${ctx.label}`);
      continue;
    }
    if (split.name.length > 255) tree.fail(e.path, `extended attribute name ${JSON.stringify(showName(name).slice(0, 40))}... is ${split.name.length} bytes after its namespace; ext4 allows 255`);
    let value = raw;
    if (ACL_XATTRS[name] !== undefined) {
      try {
        value = posixAclToExt4(raw);
      } catch (err) {
        tree.fail(e.path, `extended attribute ${name} is not a valid POSIX ACL: ${(err as Error).message}`);
      }
    }
    out.set(name, value);
    sized.push({ ...split, value });
  }
  if (inodeXattrSpace(sized) > INODE_XATTR_ROOM && blockXattrSpace(sized) > BLOCK_SIZE) {
    tree.fail(e.path, `its extended attributes need ${blockXattrSpace(sized)} bytes; ext4 holds at most one ${BLOCK_SIZE}-byte block of them per file`);
  }
  return out;
}

function applyEntry(tree: FsTree, writer: Ext4Writer, e: TarEntry, ctx: EntryContext): ReturnType<Ext4Writer['beginFile']>['sink'] | null {
  if (tree.applyWhiteout(e.path)) return null;
  if (e.uid > maxUid || e.gid > maxUid) tree.fail(e.path, `owner ${e.uid}:${e.gid} does not fit in 32 bits`);
  let mtime = e.mtime;
  if (mtime < MIN_TIME || mtime > MAX_TIME) {
    mtime = Math.min(MAX_TIME, Math.max(MIN_TIME, mtime));
    ctx.notes.note('modification times outside what ext4 stores (1901 to 2446) were clamped', `${e.mtime} on "${showName(e.path)}" in ${ctx.label}`);
  }
  const common = { mode: e.mode, uid: e.uid, gid: e.gid, mtime, mtimeNsec: e.mtimeNsec, xattrs: ext4Xattrs(tree, e, ctx) };
  switch (e.type) {
    case 'hardlink':
      tree.link(e.path, e.linkpath);
      return null;
    case 'dir':
      tree.put(e.path, newInode('dir', common));
      return null;
    case 'symlink': {
      const target = Buffer.from(e.linkpath, 'latin1');
      if (target.length === 0 || target.length >= 4096) tree.fail(e.path, 'symbolic link target is empty or longer than 4095 bytes');
      tree.put(e.path, newInode('symlink', { ...common, symlinkTarget: target }));
      return null;
    }
    case 'char':
    case 'block':
      if (e.devmajor >= 4096 || e.devminor >= 2 ** 20) tree.fail(e.path, `device number ${e.devmajor}:${e.devminor} is out of range`);
      tree.put(e.path, newInode(e.type, { ...common, devmajor: e.devmajor, devminor: e.devminor }));
      return null;
    case 'fifo':
      tree.put(e.path, newInode('fifo', common));
      return null;
    case 'file': {
      const ino = newInode('file', { ...common, size: e.size });
      tree.put(e.path, ino); // checks the path before any byte is written
      if (e.size === 0) return null;
      ctx.budget.left -= e.size;
      if (ctx.budget.left < 0) tree.fail(e.path, `the image's files add up to more than ${ctx.budget.max} bytes (the limit for a root filesystem); is the layer a decompression bomb?`);
      if (ctx.later?.deletesLater(ctx.layer, e.path)) {
        ino.unwritten = true;
        return null;
      }
      const { firstBlock, sink } = writer.beginFile(e.size);
      ino.firstBlock = firstBlock;
      return sink;
    }
  }
}
