// `vmstep cache ls|prune`: what the cache holds and making it smaller. Root
// filesystems and layer blobs belong to the rootfs module (RootfsCache knows
// which files are in use and how to remove them safely); the unpacked guest
// kernels under kernel/ are the engine's own. The developer build cache
// (build/) is never touched here.
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
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

export async function listCache(root: string): Promise<CacheItem[]> {
  const rootfs = await new RootfsCache(root).list();
  const items: CacheItem[] = rootfs.map((e) => ({ kind: e.kind, name: e.name, bytes: e.diskBytes, lastUsed: e.lastUsed }));
  items.push(...kernelEntries(root).map(({ path: _path, ...item }) => item));
  return items.sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime());
}

export interface PruneReport {
  removed: CacheItem[];
  freedBytes: number;
  keptBytes: number;
}

/**
 * With maxBytes, removes the least recently used root filesystems and blobs
 * until they fit in it (the kernel, needed by every run, stays). Without,
 * removes everything, kernels included: the next run unpacks and builds again.
 */
export async function pruneCache(root: string, maxBytes: number | null): Promise<PruneReport> {
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
  return { removed, freedBytes: removed.reduce((n, e) => n + e.bytes, 0), keptBytes: kept.reduce((n, e) => n + e.bytes, 0) };
}
