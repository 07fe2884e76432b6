// `vmstep cache ls|prune`: what the cache holds and making it smaller. Root
// filesystems and layer blobs belong to the rootfs module (RootfsCache knows
// which files are in use and how to remove them safely); the unpacked guest
// kernels under kernel/ are the engine's own. The developer build cache
// (build/) is never touched here.
import { readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { VmstepError } from './errors.js';
import { RootfsCache } from '../rootfs/index.js';

export interface CacheItem {
  kind: 'rootfs' | 'blob' | 'kernel';
  /** Image reference (rootfs), digest (blob) or kernel hash. */
  name: string;
  bytes: number;
  lastUsed: Date;
}

function kernelEntries(root: string): (CacheItem & { path: string })[] {
  const dir = join(root, 'kernel');
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    try {
      const st = statSync(join(dir, name, 'vmlinux'));
      return [{ kind: 'kernel' as const, name, bytes: st.blocks * 512, lastUsed: st.atime > st.mtime ? st.atime : st.mtime, path: join(dir, name) }];
    } catch {
      return [];
    }
  });
}

/**
 * Refuses a cache root that is, or lies below, something other than a
 * directory, before a raw ENOTDIR from deep inside a run. The root itself
 * is created when missing.
 */
export function checkCacheDir(root: string): void {
  for (let dir = root; ; dir = dirname(dir)) {
    const st = statSync(dir, { throwIfNoEntry: false });
    if (st) {
      if (st.isDirectory()) return;
      const where = dir === root ? `${root} is not a directory` : `${dir}, above ${root}, is not a directory`;
      throw new VmstepError(`the cache directory ($VMSTEP_CACHE, default ~/.cache/vmstep) cannot be used: ${where}`, 'point VMSTEP_CACHE at a directory (it is created when missing), or unset it');
    }
    if (dirname(dir) === dir) return;
  }
}

export async function listCache(root: string): Promise<CacheItem[]> {
  checkCacheDir(root);
  const rootfs = await new RootfsCache(root).list();
  const items: CacheItem[] = rootfs.map((e) => ({ kind: e.kind, name: e.name, bytes: e.diskBytes, lastUsed: e.lastUsed }));
  items.push(...kernelEntries(root).map(({ path: _path, ...item }) => item));
  return items.sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime());
}

export interface PruneReport {
  removed: CacheItem[];
  freedBytes: number;
  keptBytes: number;
  /** Unpacked guest kernels kept whatever the size limit (every run needs one). */
  keptKernels: CacheItem[];
}

/**
 * With maxBytes, removes the least recently used root filesystems and blobs
 * until they fit in it (the kernel, needed by every run, stays). Without,
 * removes everything, kernels included: the next run unpacks and builds again.
 */
export async function pruneCache(root: string, maxBytes: number | null): Promise<PruneReport> {
  checkCacheDir(root);
  const cache = new RootfsCache(root);
  const removed: CacheItem[] = (await cache.prune(maxBytes ?? 0)).map((e) => ({ kind: e.kind, name: e.name, bytes: e.diskBytes, lastUsed: e.lastUsed }));
  if (maxBytes === null) {
    for (const k of kernelEntries(root)) {
      rmSync(k.path, { recursive: true, force: true });
      const { path: _path, ...item } = k;
      removed.push(item);
    }
  }
  const kept = await listCache(root);
  return { removed, freedBytes: removed.reduce((n, e) => n + e.bytes, 0), keptBytes: kept.reduce((n, e) => n + e.bytes, 0), keptKernels: kept.filter((e) => e.kind === 'kernel') };
}
