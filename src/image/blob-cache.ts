// Layer blobs by digest under <cache>/blobs/sha256/<hex>. A blob lands there
// only after its digest and size were verified (temporary name, then an
// atomic rename), so a file in the cache is always whole and correct, and
// concurrent runs fetching the same blob cannot corrupt each other.
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DigestVerifier } from './digest.js';
import { ImageError } from './types.js';

export class BlobCache {
  constructor(readonly root: string) {}

  path(digest: string): string {
    const [alg, hex] = digest.split(':');
    return join(this.root, 'blobs', alg!, hex!);
  }

  async has(digest: string, size: number): Promise<boolean> {
    const st = await stat(this.path(digest)).catch(() => null);
    if (!st || st.size !== size) return false;
    // Mark as used for least-recently-used pruning.
    const now = new Date();
    await utimes(this.path(digest), now, now).catch(() => {});
    return true;
  }

  /** Writes a blob from a stream, verifying it; nothing lands in the cache unless it matches. */
  async put(digest: string, size: number, source: Readable, what: string, onBytes?: (n: number) => void): Promise<string> {
    const final = this.path(digest);
    await mkdir(join(final, '..'), { recursive: true });
    const tmp = `${final}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    let n = 0;
    const verifier = new DigestVerifier(digest, size, what);
    const file = createWriteStream(tmp);
    if (onBytes) {
      source.on('data', (c: Buffer) => {
        n += c.length;
        onBytes(n);
      });
    }
    try {
      await pipeline(source, verifier, file);
      await rename(tmp, final);
    } catch (e) {
      await rm(tmp, { force: true });
      const code = (e as NodeJS.ErrnoException).code;
      // A full disk is not a network failure: said at once, never retried.
      if (code === 'ENOSPC' || code === 'EDQUOT') {
        throw new ImageError(`writing ${tmp} failed: no space left on the device (${code}); free space there (vmstep cache prune) or point VMSTEP_CACHE at a larger disk`);
      }
      throw e;
    }
    return final;
  }
}
