// The root filesystem cache: one ext4 per (config and layer digests,
// builder version, guest init digest; see key()), built once and never
// modified afterwards. A run never writes it: the VMM reads it as the base of
// a copy-on-write disk, and the run's writes go to its own sparse overlay
// (../vm/overlay.ts), which costs the same to make for any image size.
// Layout under <cache>/:
//   rootfs/<key>/rootfs.ext4, meta.json   finished entries (appear by atomic rename)
//   rootfs/<key>/grown-<bytes>.ext4       the base grown for a larger disk option (made once, then read-only too)
//   rootfs/<key>.lock                      held while <key> is being built
//   rootfs/.tmp-<pid>-*                    builds in progress (swept when their process is gone)
//   runs/<pid>-*/overlay                   per-run overlays, removed by release()
//   blobs/sha256/<hex>                     layer blobs (see ../image/blob-cache.ts)
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants, createReadStream, mkdirSync, rmSync, statSync } from 'node:fs';
import { copyFile, link, mkdir, readFile, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { defaultCacheDir } from '../image/cache-dir.js';
import { createOverlay } from '../vm/overlay.js';
import type { Image } from '../image/types.js';
import { BUILDER_VERSION, BuildCancelledError, buildRootfsImage, writeFailure } from './build.js';
import { acquireLock, processAlive } from './lock.js';
import { RootfsError } from './tree.js';

const run = promisify(execFile);

export interface PrepareOptions {
  /** The guest init binary to place at /.vmstep/init. */
  initPath: string;
  /** Size of the run's disk; larger than the cached image means a grown base (resize2fs, once per size). */
  diskBytes?: number;
  onLayer?: (index: number, count: number, digest: string) => void;
  /** What the build changed because ext4 cannot hold it (see BuildOptions.onWarning). */
  onWarning?: (message: string) => void;
  /** Told once when another process holds the entry's lock for more than a few seconds. */
  onWait?: (message: string) => void;
  /** Stops a build or a lock wait (Ctrl-C); nothing is left behind. */
  signal?: AbortSignal;
}

export interface PreparedRootfs {
  /** The cached image the run's disk reads from: read-only, shared; never write to it. */
  basePath: string;
  /** This run's copy-on-write overlay over basePath (the VMM's --disk-cow). */
  overlayPath: string;
  /** True when the base was already cached. */
  cached: boolean;
  /** Removes the run's overlay. */
  release(): Promise<void>;
}

export interface CacheEntry {
  kind: 'rootfs' | 'blob';
  key: string;
  /** Image reference (rootfs) or digest (blob). */
  name: string;
  /** Bytes on disk (allocated, so sparse images count what they use). */
  diskBytes: number;
  lastUsed: Date;
}

interface Meta {
  reference: string;
  imageDigest: string;
  builderVersion: number;
  initDigest: string;
  bytes: number;
  created: string;
}

const initDigests = new Map<string, { mtimeMs: number; size: number; digest: string }>();

async function fileDigest(path: string): Promise<string> {
  const st = await stat(path).catch(() => null);
  if (!st?.isFile()) throw new RootfsError(`guest init ${path} does not exist or is not a file; build it (npm run build) or set VMSTEP_INIT`);
  const hit = initDigests.get(path);
  if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.digest;
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  const digest = `sha256:${h.digest('hex')}`;
  initDigests.set(path, { mtimeMs: st.mtimeMs, size: st.size, digest });
  return digest;
}

async function allocatedBytes(path: string): Promise<number> {
  const st = await stat(path).catch(() => null);
  if (!st) return 0;
  if (!st.isDirectory()) return st.blocks * 512;
  let total = 0;
  for (const name of await readdir(path).catch(() => [])) total += await allocatedBytes(join(path, name));
  return total;
}

export class RootfsCache {
  readonly root: string;

  constructor(root = defaultCacheDir()) {
    this.root = root;
  }

  private get rootfsDir(): string {
    return join(this.root, 'rootfs');
  }

  /**
   * The cache key: what the ext4 content depends on, and nothing else. It
   * names every byte that goes into the root filesystem: each layer blob's
   * digest and its uncompressed digest (both checked over every byte while
   * building, so a build can only succeed from exactly these bytes), the
   * config, the builder and the guest init. Two images that share a config
   * or a manifest but not their layers never share an entry.
   */
  async key(image: Image, initPath: string): Promise<string> {
    const initDigest = await fileDigest(initPath);
    const h = createHash('sha256').update(`rootfs\n${BUILDER_VERSION}\n${initDigest}\n${image.configDigest}\n`);
    for (const l of image.layers) h.update(`${l.digest} ${l.diffId ?? '-'}\n`);
    return h.digest('hex').slice(0, 40);
  }

  /** Base image for `image` (building it when absent) plus an empty overlay for one run's writes. */
  async prepare(image: Image, opts: PrepareOptions): Promise<PreparedRootfs> {
    const key = await this.key(image, opts.initPath);
    const dir = join(this.rootfsDir, key);
    let basePath = join(dir, 'rootfs.ext4');
    let cached = true;
    let base = statSync(basePath, { throwIfNoEntry: false });
    if (!base) {
      cached = false;
      await this.build(image, key, opts);
      base = statSync(basePath);
    }
    void utimes(join(dir, 'meta.json'), new Date(), new Date()).catch(() => {});
    if (opts.diskBytes && opts.diskBytes > base.size) {
      basePath = await this.grown(dir, basePath, opts.diskBytes);
      base = statSync(basePath);
    }
    // Synchronous from here: a few small system calls, quicker than trips
    // through libuv's thread pool (see createOverlay).
    const runDir = join(this.root, 'runs', `${process.pid}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`);
    mkdirSync(runDir, { recursive: true });
    const overlayPath = join(runDir, 'overlay');
    try {
      createOverlay(overlayPath, { baseBytes: base.size });
    } catch (e) {
      rmSync(runDir, { recursive: true, force: true });
      throw e;
    }
    return { basePath, overlayPath, cached, release: () => rm(runDir, { recursive: true, force: true }) };
  }

  /**
   * The base grown to `bytes` (resize2fs on a copy), made once per size and
   * kept beside the base, read-only like it: a larger disk costs one copy the
   * first time, and every run after that gets an overlay as usual.
   */
  private async grown(dir: string, basePath: string, bytes: number): Promise<string> {
    const blocks = Math.floor(bytes / 4096);
    const path = join(dir, `grown-${blocks * 4096}.ext4`);
    if (statSync(path, { throwIfNoEntry: false })) return path;
    const tmp = join(this.rootfsDir, `.tmp-${process.pid}-grow-${Math.random().toString(36).slice(2)}.ext4`);
    try {
      await copyImage(basePath, tmp);
      await run('resize2fs', ['-f', tmp, `${blocks}`], { timeout: 5 * 60_000 });
      // link, not rename: a grown base another run made meanwhile stays the one in use.
      await link(tmp, path).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
    } catch (e) {
      const err = e as NodeJS.ErrnoException & { stderr?: string };
      if (err instanceof RootfsError) throw err;
      if (err.code === 'ENOENT' && err.syscall?.startsWith('spawn')) throw new RootfsError('growing the run disk needs resize2fs (Debian/Ubuntu package e2fsprogs); install it or leave the disk size at its default');
      if (err.stderr !== undefined) throw new RootfsError(`resize2fs could not grow the run disk to ${bytes} bytes: ${err.stderr.trim() || err.message}`);
      throw err;
    } finally {
      await rm(tmp, { force: true });
    }
    return path;
  }

  private async build(image: Image, key: string, opts: PrepareOptions): Promise<void> {
    await mkdir(this.rootfsDir, { recursive: true });
    const lock = await acquireLock(join(this.rootfsDir, `${key}.lock`), {
      what: `building the root filesystem of ${image.reference}`,
      ...(opts.onWait ? { onWait: opts.onWait } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    }).catch((e: unknown) => {
      throw opts.signal?.aborted ? new BuildCancelledError() : writeFailure(e, this.rootfsDir);
    });
    try {
      const dir = join(this.rootfsDir, key);
      if (await stat(join(dir, 'rootfs.ext4')).catch(() => null)) return; // another run built it meanwhile
      await this.sweep();
      const tmp = join(this.rootfsDir, `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
      try {
        await mkdir(tmp);
        const out = join(tmp, 'rootfs.ext4');
        const result = await buildRootfsImage(image, {
          initPath: opts.initPath,
          outPath: out,
          ...(opts.onLayer ? { onLayer: opts.onLayer } : {}),
          ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
          ...(opts.signal ? { signal: opts.signal } : {}),
        });
        const meta: Meta = { reference: image.reference, imageDigest: image.digest, builderVersion: BUILDER_VERSION, initDigest: await fileDigest(opts.initPath), bytes: result.bytes, created: new Date().toISOString() };
        await writeFile(join(tmp, 'meta.json'), JSON.stringify(meta, null, 2)).catch((e: unknown) => {
          throw writeFailure(e, join(tmp, 'meta.json'));
        });
        await rename(tmp, dir);
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    } finally {
      await lock.release();
    }
  }

  /** Removes leftovers of builds and runs whose process is gone. */
  async sweep(): Promise<void> {
    for (const name of await readdir(this.rootfsDir).catch(() => [] as string[])) {
      const m = /^\.tmp-(\d+)-/.exec(name);
      if (m && !processAlive(Number(m[1]))) await rm(join(this.rootfsDir, name), { recursive: true, force: true });
    }
    const runs = join(this.root, 'runs');
    for (const name of await readdir(runs).catch(() => [] as string[])) {
      const m = /^(\d+)-/.exec(name);
      if (m && !processAlive(Number(m[1]))) await rm(join(runs, name), { recursive: true, force: true });
    }
  }

  /** What the cache holds: root filesystems and layer blobs, most recently used first. */
  async list(): Promise<CacheEntry[]> {
    const out: CacheEntry[] = [];
    for (const key of await readdir(this.rootfsDir).catch(() => [] as string[])) {
      if (key.startsWith('.') || key.endsWith('.lock')) continue;
      const dir = join(this.rootfsDir, key);
      const metaPath = join(dir, 'meta.json');
      const st = await stat(metaPath).catch(() => null);
      if (!st) continue;
      const meta = JSON.parse(await readFile(metaPath, 'utf8').catch(() => '{}')) as Partial<Meta>;
      out.push({ kind: 'rootfs', key, name: meta.reference ?? '?', diskBytes: await allocatedBytes(dir), lastUsed: st.mtime });
    }
    const blobDir = join(this.root, 'blobs', 'sha256');
    for (const hex of await readdir(blobDir).catch(() => [] as string[])) {
      if (!/^[0-9a-f]{64}$/.test(hex)) continue;
      const st = await stat(join(blobDir, hex)).catch(() => null);
      if (st) out.push({ kind: 'blob', key: hex, name: `sha256:${hex}`, diskBytes: st.blocks * 512, lastUsed: st.mtime });
    }
    return out.sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime());
  }

  /** Deletes least recently used entries until the cache holds at most `maxBytes`; returns what was removed. */
  async prune(maxBytes = 0): Promise<CacheEntry[]> {
    await this.sweep();
    const entries = await this.list();
    let total = entries.reduce((n, e) => n + e.diskBytes, 0);
    const removed: CacheEntry[] = [];
    for (const e of [...entries].reverse()) {
      if (total <= maxBytes) break;
      if (e.kind === 'rootfs') {
        // Rename first so no run ever sees a half-deleted entry; runs holding a copy keep theirs.
        const gone = join(this.rootfsDir, `.tmp-${process.pid}-prune-${e.key}`);
        if (!(await rename(join(this.rootfsDir, e.key), gone).then(() => true, () => false))) continue;
        await rm(gone, { recursive: true, force: true });
      } else {
        await rm(join(this.root, 'blobs', 'sha256', e.key), { force: true });
      }
      total -= e.diskBytes;
      removed.push(e);
    }
    return removed;
  }
}

/**
 * Copies an image file: a reflink where the filesystem shares blocks (btrfs,
 * XFS: instant), else `cp --sparse=always` so the free space stays holes.
 */
export async function copyImage(src: string, dest: string): Promise<'reflink' | 'copy'> {
  try {
    await copyFile(src, dest, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE_FORCE);
    return 'reflink';
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EEXIST') throw e;
  }
  try {
    await run('cp', ['--reflink=auto', '--sparse=always', '--', src, dest], { timeout: 10 * 60_000 });
  } catch (e) {
    await rm(dest, { force: true });
    if (!(await stat(src).catch(() => null))) throw Object.assign(new Error(`${src} vanished`), { code: 'ENOENT' });
    throw new RootfsError(`copying the root filesystem for this run failed: ${((e as { stderr?: string }).stderr ?? (e as Error).message).trim()}`);
  }
  return 'copy';
}
