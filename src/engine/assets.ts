// The runtime assets shipped in dist/ beside the JS: the guest kernel and
// guest init. Each can be overridden for development (VMSTEP_KERNEL,
// VMSTEP_INIT). The guest kernel: --kernel / the `kernel` input, else
// $VMSTEP_KERNEL, else the gzip'd vmlinux shipped in dist/. A gzip'd kernel is unpacked once into
// the cache, under the hash of its bytes, so every later run boots straight
// from the cached ELF and two versions of vmstep never share a file. The
// cache is vmstep's own ($VMSTEP_CACHE), not the runner's tool cache
// (@actions/tool-cache): the CLI and the action then share one copy, `vmstep
// cache ls/prune` sees it, and hosted runners, whose tool cache does not
// outlive the job either, lose nothing.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, readSync, closeSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { defaultCacheDir } from '../image/index.js';
import { VmstepError } from './errors.js';
import { assetDirs, shippedFile } from './vm-port.js';

const BUNDLED_KERNEL = 'vmlinux.gz';
const BUNDLED_INIT = 'vmstep-init';

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
  const chosen = explicit ?? (process.env.VMSTEP_KERNEL || null) ?? shippedFile(BUNDLED_KERNEL);
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
  const chosen = process.env.VMSTEP_INIT || shippedFile(BUNDLED_INIT);
  if (!chosen) {
    throw new VmstepError(
      `no guest init: ${BUNDLED_INIT} is not next to vmstep (looked in ${assetDirs().join(', ')})`,
      'reinstall vmstep, run `npm run build` in a source checkout, or set VMSTEP_INIT=PATH',
    );
  }
  return chosen;
}
