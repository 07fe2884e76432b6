// Image -> ext4 file: applies the layers in order to an in-memory tree while
// their file bytes stream into the image, adds the guest init at
// /.vmstep/init, then writes the metadata. Knows nothing of where the image
// came from (see ../image) nor of caching (see cache.ts).
import { createReadStream } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import { decompressedLayer } from '../image/decompress.js';
import { TarFormatError } from '../image/tar-header.js';
import { ImageError, type Image } from '../image/types.js';
import { Ext4Writer, type Ext4Result, type LayoutOptions } from './ext4-writer.js';
import { readTar, type TarEntry } from './tar-stream.js';
import { FsTree, RootfsError, newInode } from './tree.js';
import { GUEST_INIT_PATH } from '../vm/cmdline.js';

/** Bumped whenever the image layout this code writes changes; part of the cache key. */
export const BUILDER_VERSION = 1;
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
}

const maxUid = 2 ** 32 - 1;

export async function buildRootfsImage(image: Image, opts: BuildOptions): Promise<Ext4Result> {
  const initStat = await stat(opts.initPath).catch(() => null);
  if (!initStat?.isFile()) throw new RootfsError(`guest init ${opts.initPath} does not exist or is not a file; build it (npm run build) or set VMSTEP_INIT`);
  const fh = await open(opts.outPath, 'wx');
  let ok = false;
  try {
    const writer = new Ext4Writer(fh, opts.maxContentBytes);
    const tree = new FsTree();
    let entries = 0;
    const maxEntries = opts.maxEntries ?? 4_000_000;
    // Registry layers download (three at a time) while earlier ones are applied;
    // a failed prefetch is retried, and reported, by the layer's open().
    void prefetchAll(image, 3);
    for (const [i, layer] of image.layers.entries()) {
      opts.onLayer?.(i, image.layers.length, layer.digest);
      const label = `layer ${i + 1} of ${image.layers.length} (${layer.digest})`;
      tree.beginLayer(i, label);
      try {
        const { stream } = await decompressedLayer(await layer.open());
        await readTar(stream, (e) => {
          // Each entry costs memory in the tree: bound it like the content size.
          if (++entries > maxEntries) tree.fail(e.path, `more than ${maxEntries} entries in the image; is it a hostile archive?`);
          return applyEntry(tree, writer, e);
        });
      } catch (e) {
        if (e instanceof RootfsError || e instanceof ImageError) throw e;
        if (e instanceof TarFormatError) throw new RootfsError(`${label}: not a valid tar stream: ${e.message}`);
        throw new RootfsError(`${label}: cannot be read: ${(e as Error).message}`);
      }
    }
    // The init goes in last so that no image can replace or shadow it.
    tree.beginLayer(image.layers.length, 'vmstep guest init');
    tree.root.children!.delete('.vmstep');
    tree.put('.vmstep', newInode('dir', { mode: 0o755 }));
    const init = newInode('file', { mode: 0o755, size: initStat.size });
    tree.put(GUEST_INIT_PATH.slice(1), init);
    const { firstBlock, sink } = writer.beginFile(initStat.size, GUEST_INIT_PATH);
    init.firstBlock = firstBlock;
    for await (const chunk of createReadStream(opts.initPath)) await sink(chunk as Buffer);
    const result = await writer.finish(tree, opts);
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

function applyEntry(tree: FsTree, writer: Ext4Writer, e: TarEntry): ReturnType<Ext4Writer['beginFile']>['sink'] | null {
  if (tree.applyWhiteout(e.path)) return null;
  if (e.uid > maxUid || e.gid > maxUid) tree.fail(e.path, `owner ${e.uid}:${e.gid} does not fit in 32 bits`);
  const common = { mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime, mtimeNsec: e.mtimeNsec, xattrs: e.xattrs };
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
      const { firstBlock, sink } = writer.beginFile(e.size, e.path);
      ino.firstBlock = firstBlock;
      return sink;
    }
  }
}
