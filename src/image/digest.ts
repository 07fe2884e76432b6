// Content addressing: every blob (manifest, config, layer) is checked
// against the digest and size its parent names before anything trusts it.
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ImageError } from './types.js';

const sha256Re = /^sha256:[0-9a-f]{64}$/;

/** Checks a digest is a sha256 digest (the only algorithm images use in practice). */
export function checkDigest(digest: unknown, what: string): string {
  if (typeof digest !== 'string' || !sha256Re.test(digest)) {
    throw new ImageError(`${what}: "${String(digest)}" is not a sha256 digest (expected sha256:<64 lowercase hex digits)`);
  }
  return digest;
}

export function sha256Digest(data: Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Verifies a whole blob held in memory. */
export function verifyBlob(data: Uint8Array, digest: string, size: number | undefined, what: string): void {
  if (size !== undefined && data.length !== size) {
    throw new ImageError(`${what} ${digest}: size is ${data.length} bytes, the manifest says ${size}; the image is corrupt or was changed`);
  }
  const actual = sha256Digest(data);
  if (actual !== digest) throw new ImageError(`${what} ${digest}: content has digest ${actual}; the image is corrupt or was changed`);
}

/**
 * A pass-through stream that hashes what flows and fails at the end when the
 * digest or size differs (or at once when more bytes arrive than declared).
 */
export class DigestVerifier extends Transform {
  private readonly hash = createHash('sha256');
  private seen = 0;
  constructor(
    private readonly digest: string,
    private readonly size: number | undefined,
    private readonly what: string,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.size !== undefined && this.seen > this.size) {
      cb(new ImageError(`${this.what} ${this.digest}: more than the ${this.size} bytes the manifest declares; the image is corrupt or was changed`));
      return;
    }
    this.hash.update(chunk);
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    if (this.size !== undefined && this.seen !== this.size) {
      cb(new ImageError(`${this.what} ${this.digest}: ${this.seen} bytes, the manifest declares ${this.size}; the image is corrupt or truncated`));
      return;
    }
    const actual = `sha256:${this.hash.digest('hex')}`;
    if (actual !== this.digest) {
      cb(new ImageError(`${this.what} ${this.digest}: content has digest ${actual}; the image is corrupt or was changed`));
      return;
    }
    cb();
  }
}
