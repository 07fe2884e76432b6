// `vmstep cache ls|prune`: what the cache holds and making it smaller.
// The cache root ($VMSTEP_CACHE, default ~/.cache/vmstep) has one directory
// per kind of entry; every entry is a file or a directory whose mtime the
// owning module refreshes on use, so pruning removes the least recently used
// first. The developer build cache (build/) is never touched here.
import { lstatSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export interface CacheEntry {
  kind: CacheKind;
  name: string;
  path: string;
  bytes: number;
  lastUsed: Date;
}

export type CacheKind = 'blobs' | 'rootfs' | 'kernel';

/** Where each kind lives below the cache root, and how deep its entries sit. */
const KINDS: { kind: CacheKind; dir: string[]; depth: number }[] = [
  { kind: 'blobs', dir: ['blobs'], depth: 2 }, // blobs/<alg>/<hex>
  { kind: 'rootfs', dir: ['rootfs'], depth: 1 },
  { kind: 'kernel', dir: ['kernel'], depth: 1 },
];

function sizeOf(path: string): { bytes: number; mtimeMs: number } {
  const st = lstatSync(path);
  if (!st.isDirectory()) return { bytes: st.blocks * 512 || st.size, mtimeMs: st.mtimeMs };
  let bytes = 0;
  let mtimeMs = st.mtimeMs;
  for (const name of readdirSync(path)) {
    const s = sizeOf(join(path, name));
    bytes += s.bytes;
    mtimeMs = Math.max(mtimeMs, s.mtimeMs);
  }
  return { bytes, mtimeMs };
}

function children(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export function listCache(root: string): CacheEntry[] {
  const out: CacheEntry[] = [];
  for (const k of KINDS) {
    const base = join(root, ...k.dir);
    const walk = (dir: string, depth: number, prefix: string) => {
      for (const name of children(dir)) {
        const path = join(dir, name);
        // Temporary files of an unfinished write belong to a running process.
        if (name.includes('.tmp-')) continue;
        if (depth > 1) {
          if (lstatSync(path).isDirectory()) walk(path, depth - 1, `${prefix}${name}:`);
          continue;
        }
        const s = sizeOf(path);
        out.push({ kind: k.kind, name: `${prefix}${name}`, path, bytes: s.bytes, lastUsed: new Date(s.mtimeMs) });
      }
    };
    walk(base, k.depth, '');
  }
  return out.sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime());
}

export interface PruneReport {
  removed: CacheEntry[];
  freedBytes: number;
  keptBytes: number;
}

/**
 * Removes the least recently used entries until the cache holds at most
 * maxBytes; with maxBytes null, removes every entry.
 */
export function pruneCache(root: string, maxBytes: number | null): PruneReport {
  const entries = listCache(root); // most recent first
  let total = entries.reduce((n, e) => n + e.bytes, 0);
  const removed: CacheEntry[] = [];
  for (let i = entries.length - 1; i >= 0; i--) {
    if (maxBytes !== null && total <= maxBytes) break;
    const e = entries[i]!;
    rmSync(e.path, { recursive: true, force: true });
    removed.push(e);
    total -= e.bytes;
  }
  return { removed, freedBytes: removed.reduce((n, e) => n + e.bytes, 0), keptBytes: total };
}
