// The runtime assets shipped in dist/ beside the JS: the guest kernel and
// guest init. Each can be overridden for development (VMSTEP_KERNEL,
// VMSTEP_INIT). The guest kernel: --kernel / the `kernel` input, else
// $VMSTEP_KERNEL, else the gzip'd vmlinux shipped in dist/. A gzip'd kernel is unpacked once into
// the cache, under the hash of its bytes, so every later run boots straight
// from the cached ELF and two versions of vmstep never share a file.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, readSync, closeSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { defaultCacheDir } from '../image/index.js';
import { VmstepError } from './errors.js';

const BUNDLED_KERNEL = 'vmlinux.gz';
const BUNDLED_INIT = 'vmstep-init';

/**
 * Directories that may hold the runtime assets: the directory of the running
 * entry script (dist/ when installed or run as an action), then dist/ of the
 * source tree (development and tests).
 */
export function assetDirs(): string[] {
  const dirs: string[] = [];
  const entry = process.argv[1];
  if (entry) {
    try {
      dirs.push(dirname(realpathSync(entry)));
    } catch {
      // An entry that is not a file (node -e): nothing to look at.
    }
  }
  const here = dirname(fileURLToPath(import.meta.url));
  dirs.push(here, join(here, '..', '..', 'dist'));
  return [...new Set(dirs)].filter((d) => existsSync(d));
}

function isGzip(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(2);
    return readSync(fd, head, 0, 2, 0) === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

/** An uncompressed kernel path: the given one, or its unpacked copy in the cache. */
export function kernelPath(explicit: string | null, cacheDir: string | null): string {
  const chosen = explicit ?? (process.env.VMSTEP_KERNEL || null) ?? assetDirs().map((d) => join(d, BUNDLED_KERNEL)).find((p) => existsSync(p)) ?? null;
  if (chosen === null) {
    throw new VmstepError(
      `no guest kernel: ${BUNDLED_KERNEL} is not next to vmstep (looked in ${assetDirs().join(', ')})`,
      'reinstall vmstep, run `npm run build` in a source checkout, or pass --kernel PATH (VMSTEP_KERNEL=PATH)',
    );
  }
  if (!existsSync(chosen)) {
    throw new VmstepError(`guest kernel ${chosen} does not exist`, 'check --kernel / the kernel input / VMSTEP_KERNEL');
  }
  if (!isGzip(chosen)) return chosen;
  const gz = readFileSync(chosen);
  const hash = createHash('sha256').update(gz).digest('hex').slice(0, 32);
  const dir = join(cacheDir ?? defaultCacheDir(), 'kernel', hash);
  const out = join(dir, 'vmlinux');
  if (existsSync(out)) return out;
  let elf: Buffer;
  try {
    elf = gunzipSync(gz);
  } catch (err) {
    throw new VmstepError(`guest kernel ${chosen} is not a valid gzip file (${(err as Error).message})`, 'rebuild it (npm run build) or pass an uncompressed vmlinux', { cause: err });
  }
  mkdirSync(dir, { recursive: true });
  // Unpacked under a temporary name and renamed, so a concurrent run never boots half a kernel.
  const tmp = `${out}.tmp-${process.pid}`;
  writeFileSync(tmp, elf);
  renameSync(tmp, out);
  return out;
}

/** The static guest init binary that the root filesystem carries at /.vmstep/init. */
export function initPath(): string {
  const chosen = process.env.VMSTEP_INIT || assetDirs().map((d) => join(d, BUNDLED_INIT)).find((p) => existsSync(p));
  if (!chosen) {
    throw new VmstepError(
      `no guest init: ${BUNDLED_INIT} is not next to vmstep (looked in ${assetDirs().join(', ')})`,
      'reinstall vmstep, run `npm run build` in a source checkout, or set VMSTEP_INIT=PATH',
    );
  }
  return chosen;
}
