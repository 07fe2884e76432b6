// The one cache root: $VMSTEP_CACHE, default ~/.cache/vmstep (shared with the build cache of scripts/lib/cache.mjs).
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export function defaultCacheDir(): string {
  return resolve(process.env.VMSTEP_CACHE || join(homedir(), '.cache', 'vmstep'));
}
