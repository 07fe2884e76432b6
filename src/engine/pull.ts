// `vmstep pull`: resolve an image, download its layers and build its root
// filesystem into the cache, so that the next run starts from a warm cache
// (the benchmark workflow's "set-up" step, kept out of the timed run).
import { defaultCacheDir, resolveImage } from '../image/index.js';
import { RootfsCache } from '../rootfs/index.js';
import { initPath } from './assets.js';
import { checkCacheDir } from './cache.js';
import type { Credentials } from './types.js';

export interface PullResult {
  reference: string;
  digest: string;
  layers: number;
  /** The root filesystem was already in the cache. */
  cached: boolean;
  imageMs: number;
  rootfsMs: number;
}

export async function pullImage(
  image: string,
  opts: { cacheDir?: string | null; credentials?: Credentials | null; signal?: AbortSignal; progress?: (message: string) => void; warning?: (message: string) => void } = {},
): Promise<PullResult> {
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  checkCacheDir(cacheDir);
  const init = initPath();
  const t0 = performance.now();
  const resolved = await resolveImage(image, {
    cacheDir,
    ...(opts.credentials ? { credentials: { ...opts.credentials } } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    onProgress: (e) => {
      if (e.done) opts.progress?.(`downloaded ${e.digest.slice(0, 19)}`);
    },
  });
  const t1 = performance.now();
  const cache = new RootfsCache(cacheDir);
  const prepared = await cache.prepare(resolved, {
    initPath: init,
    onLayer: (i, n, digest) => opts.progress?.(`unpacking layer ${i + 1}/${n} ${digest.slice(0, 19)}`),
    onWarning: (m) => opts.warning?.(`${resolved.reference}: ${m}`),
    onWait: (m) => opts.progress?.(m),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  await prepared.release();
  return { reference: resolved.reference, digest: resolved.digest, layers: resolved.layers.length, cached: prepared.cached, imageMs: t1 - t0, rootfsMs: performance.now() - t1 };
}
